"""The LeRobot test data: the datasets LeRobot 0.4.4 wrote (tests/testdata/lerobot_tiny), their source frames,
and their parquet rows read with pyarrow alone (the reference the reader is checked against)."""

from __future__ import annotations

import collections
import importlib.util
import pathlib

import numpy as np

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "testdata" / "lerobot_tiny"
V30 = FIXTURES / "lerobot_tiny_v30"
V21 = FIXTURES / "lerobot_tiny_v21"
CAMERA = "observation.images.front"
TASKS = ["pick up the red cube", "push the blue block to the left"]


def fixture_script():
    """tests/testdata/lerobot_tiny/make_fixtures.py (its top level imports numpy only, no LeRobot)."""
    spec = importlib.util.spec_from_file_location("lerobot_tiny_make_fixtures", FIXTURES / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def source_frames(episode: int) -> np.ndarray:
    """The frames the fixture script gave LeRobot for ``episode`` (before video encoding)."""
    script = fixture_script()
    return np.stack([script.frame(episode, t) for t in range(script.LENGTHS[episode])])


def parquet_rows(root: pathlib.Path) -> dict[int, dict[str, np.ndarray]]:
    """Every data row of a LeRobot dataset read with pyarrow only, grouped by ``episode_index`` in file order."""
    import pyarrow.parquet as pq

    rows: dict[int, dict[str, list]] = collections.defaultdict(lambda: collections.defaultdict(list))
    for path in sorted((root / "data").rglob("*.parquet")):
        for r in pq.read_table(path).to_pylist():
            for k, v in r.items():
                rows[r["episode_index"]][k].append(v)
    return {e: {k: np.asarray(v) for k, v in cols.items()} for e, cols in rows.items()}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


NUMBERS = ("observation.state", "action", "timestamp", "frame_index", "episode_index", "index", "task_index", "task")


def assert_same_numbers(a: dict, b: dict, keys=NUMBERS) -> None:
    """Two LeRobot episodes hold the same values and dtypes for ``keys`` (numbers and tasks, not frames)."""
    for k in keys:
        assert a[k].dtype == b[k].dtype, k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def assert_same_batches(xs: list[dict], ys: list[dict]) -> None:
    """Two lists of batches are equal, key by key and element by element."""
    assert len(xs) == len(ys)
    for x, y in zip(xs, ys, strict=True):
        assert x.keys() == y.keys()
        for k in x:
            np.testing.assert_array_equal(x[k], y[k], err_msg=k)


def jaxrobot_cli(*args, cache, check: bool = True):
    """``python -m jaxrobot.cli ARGS`` in a subprocess with its own cache folder; the completed process."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "JAXROBOT_CACHE": str(cache)}
    r = subprocess.run([sys.executable, "-m", "jaxrobot.cli", *map(str, args)], capture_output=True, text=True,
                       timeout=300, env=env)
    assert not (check and r.returncode), f"exit {r.returncode}: {r.stderr[-2000:]}"
    return r
