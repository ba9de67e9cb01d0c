"""Shared fixtures: one small trained BC checkpoint (2-frame history) and its exported bundle per session."""

import pathlib
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
RUNTIME_SRC = REPO / "export" / "runtime"
for path in (RUNTIME_SRC, pathlib.Path(__file__).parent):  # the runtime package (uninstalled), helpers
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


@pytest.fixture(scope="session")
def bc_workdir(tmp_path_factory) -> pathlib.Path:
    """BC on the synthetic data with a 2-frame history, 100 steps (a few seconds)."""
    from tests_export_helpers import train_small

    return train_small("bc_synthetic", tmp_path_factory.mktemp("bc") / "run", 100, "data.n_obs_steps=2",
                       "data.num_episodes=16")


@pytest.fixture(scope="session")
def bc_bundle(bc_workdir, tmp_path_factory) -> tuple[pathlib.Path, dict]:
    from jaxrobot.export.bundle import export_checkpoint

    out = tmp_path_factory.mktemp("bundles") / "bc"
    report = export_checkpoint(bc_workdir, out, formats=("onnx", "tflite"),
                               precisions=("fp32", "fp16", "int8", "int8_full"), log=lambda s: None)
    return out, report
