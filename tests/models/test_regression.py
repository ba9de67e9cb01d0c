"""Regression artifacts: the small models' fixed-seed outputs and gradient statistics must not drift.

Regenerate after an intended change with ``.venv/bin/python -m tests.helpers.regression``.
"""

import numpy as np
import pytest

from tests.helpers.regression import ARTIFACTS, DIR


@pytest.mark.parametrize("name", sorted(ARTIFACTS))
def test_matches_saved_artifact(name):
    path = DIR / f"{name}.npz"
    assert path.is_file(), f"{path} is missing: run .venv/bin/python -m tests.helpers.regression"
    with np.load(path) as f:
        saved = {k: f[k] for k in f.files}
    got = ARTIFACTS[name]()
    assert set(got) == set(saved), f"statistics changed: {sorted(set(got) ^ set(saved))}"
    for key in sorted(saved):
        np.testing.assert_allclose(
            got[key],
            saved[key],
            rtol=2e-4,
            atol=1e-5,
            err_msg=f"{name}: {key} drifted (regenerate only if the change is intended)",
        )
