"""Batches built in worker processes (``data.processes``): the same batches as the threads build, exact resume,
errors from a worker with their message, held batches never overwritten, no files left behind."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from jaxrobot.config import ConfigError, validate
from jaxrobot.data.base import DataError
from jaxrobot.data.sources import make_source
from jaxrobot.data.sources import workers as W
from jaxrobot.data.sources.mixture import MixtureDataConfig
from jaxrobot.data.sources.rlds import RldsDataConfig, RldsSource
from tests.helpers.rlds_fixtures import SIM_SHARD, write_layout, write_with_corrupt_frame

BRIDGE = "tests/testdata/bridge_dataset_octo_debug/bridge_dataset/1.0.0"


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXROBOT_CACHE", str(tmp_path / "cache"))


def _take(src, n):
    return [next(src) for _ in range(n)]


def _segments() -> set[str]:
    return {n for n in os.listdir(W.shm_dir()) if n.startswith(f"jaxrobot-{os.getpid()}-")}


def _assert_same(xs, ys):
    assert len(xs) == len(ys)
    for a, b in zip(xs, ys, strict=True):
        assert a.keys() == b.keys()
        for k in a:
            assert a[k].dtype == b[k].dtype, k
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_processes_build_the_batches_the_threads_build_and_resume_exactly():
    """Crops, colour jitter and history windows (random draws keyed by position) come out identical, whichever
    process builds which rows; get_state/set_state resume at the same batch."""
    before = _segments()
    cfg = RldsDataConfig(path=BRIDGE, n_obs_steps=2, horizon=3, image_size=(48, 48), random_crop=0.875,
                         color_jitter=0.2)
    want = _take(RldsSource(cfg, global_batch_size=12, seed=4), 8)
    src = make_source(validate(dataclasses.replace(cfg, processes=2)), global_batch_size=12, seed=4)
    got = _take(src, 5)
    state = src.get_state()
    got += _take(src, 3)
    _assert_same(got, want)
    src.set_state(state)
    _assert_same(_take(src, 3), want[5:])
    assert len(src._procs.pids()) == 2 and src.worker_rss_mb() > 0
    pids = src._procs.pids()
    src.close()
    assert _segments() == before  # the slot files are gone
    for pid in pids:  # and the workers have exited
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_mixture_in_processes_equals_the_threads(tmp_path):
    sim = write_layout(tmp_path, "jaxrobot_sim", lengths=(6, 4, 9, 5))[0]
    members = (RldsDataConfig(path=BRIDGE, horizon=4, image_size=(32, 32)),
               RldsDataConfig(path=sim, horizon=4, image_size=(32, 32)))
    threads = make_source(MixtureDataConfig(datasets=members, weights=(0.7, 0.3)), global_batch_size=10, seed=2)
    procs = make_source(MixtureDataConfig(datasets=tuple(dataclasses.replace(m, processes=3) for m in members),
                                          weights=(0.7, 0.3)), global_batch_size=10, seed=2)
    _assert_same(_take(procs, 6), _take(threads, 6))
    procs.close(), threads.close()


def test_a_batch_the_caller_holds_is_never_overwritten():
    """Batches are views of shared slots; a slot is reused only once every array of its batch is gone."""
    src = RldsSource(RldsDataConfig(path=BRIDGE, horizon=2, processes=2), global_batch_size=8, seed=0)
    held = next(src)
    copy = {k: v.copy() for k, v in held.items()}
    image = held["observation/image_primary"][:2]  # a view outliving the batch dict
    del held
    for _ in range(10):
        next(src)  # a dropped batch frees its slot at once
    assert len(src._procs._paths) <= 5  # the 3 in flight, the held one, and one being recycled at most
    np.testing.assert_array_equal(image, copy["observation/image_primary"][:2])
    src.close()
    np.testing.assert_array_equal(image, copy["observation/image_primary"][:2])  # still readable after close


def test_a_corrupt_frame_in_a_worker_fails_naming_where_it_is(tmp_path):
    path = write_with_corrupt_frame(tmp_path)
    src = RldsSource(RldsDataConfig(path=path, shuffle=False, processes=2), global_batch_size=24)
    want = rf"{SIM_SHARD}: record 1 \(episode 1\), feature 'steps/observation/image_front' step 2: cannot decode JPEG"
    with pytest.raises(DataError, match=want + ".*skip_bad"):
        next(src)
    src.close()


def test_skip_bad_in_workers_gives_the_same_batches_and_counts_the_frame(tmp_path):
    path = write_with_corrupt_frame(tmp_path)
    cfg = RldsDataConfig(path=path, skip_bad=True, n_obs_steps=2, stats_cache=False)
    want = _take(RldsSource(cfg, global_batch_size=8, seed=1), 12)
    src = RldsSource(dataclasses.replace(cfg, processes=2), global_batch_size=8, seed=1)
    _assert_same(_take(src, 12), want)
    assert src.skipped_frames == 1
    src.close()


def test_a_worker_that_dies_is_a_data_error_not_a_hang():
    src = RldsSource(RldsDataConfig(path=BRIDGE, processes=2, prefetch=0), global_batch_size=8)
    next(src)
    os.kill(src._procs.pids()[1], 9)
    with pytest.raises(DataError, match=r"data worker process \d+ exited \(exit code -9\).*data.processes"):
        for _ in range(4):
            next(src)
    src.close()


def test_a_worker_that_cannot_start_raises_its_own_error_every_time():
    """A recipe failing in the worker (e.g. a reader that cannot open its dataset there) is raised as is, not
    as a process that exited."""
    import functools
    import operator

    keys = {"x": {"shape": [4], "dtype": "float32"}}
    procs = W.ProcessAssembler(functools.partial(operator.truediv, 1, 0), keys, lambda work, n: [(work, work)] * n,
                               processes=1, slots=1)
    for _ in range(2):
        with pytest.raises(ZeroDivisionError):
            procs.assemble(np.arange(4))
    procs.close()


def test_a_script_without_a_main_guard_can_use_workers(tmp_path):
    """Workers are fresh interpreters: the caller's main script is not run again in them (with
    multiprocessing's spawn it would be, and this script would recurse)."""
    script = tmp_path / "train_like.py"
    script.write_text(textwrap.dedent(f"""
        from jaxrobot.data.sources.rlds import RldsDataConfig, RldsSource
        src = RldsSource(RldsDataConfig(path={os.path.abspath(BRIDGE)!r}, processes=2), global_batch_size=4)
        print("shape", next(src)["action"].shape)
        src.close()
    """))
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "shape (4, 1, 7)"


def test_orphan_slot_files_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f"jaxrobot-{dead.pid}-1f-0").write_bytes(b"x")
    (tmp_path / f"jaxrobot-{os.getpid()}-1f-0").write_bytes(b"x")  # ours: alive
    (tmp_path / "jaxrobot-notapid").write_bytes(b"x")
    (tmp_path / "other").write_bytes(b"x")
    assert W.remove_orphan_segments(str(tmp_path)) == 1
    assert sorted(os.listdir(tmp_path)) == sorted([f"jaxrobot-{os.getpid()}-1f-0", "jaxrobot-notapid", "other"])


def test_processes_out_of_range_is_a_config_error():
    with pytest.raises(ConfigError, match="processes"):
        validate(RldsDataConfig(path=BRIDGE, processes=-1))
