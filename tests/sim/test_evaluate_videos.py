"""Evaluation videos: MP4 round trip, the success/failure grid image, and the ``jaxrobot eval`` flags.

The end-to-end test (slow: software EGL renders ~10 frames/s here) reuses the session's compiled pick_cube
step (``conftest.BATCH``) and renders small frames with the process's one ``mujoco.Renderer``.
"""

import argparse
import json

import numpy as np
import pytest

from jaxrobot.sim import evaluate as ev
from tests.helpers.sim import BATCH


def _decode(path):
    av = pytest.importorskip("av")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
        return frames, stream.average_rate


def _moving_square(t=12, h=48, w=64):
    frames = np.zeros((t, h, w, 3), np.uint8)
    frames[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, None, :]
    frames[..., 2] = 90
    for i in range(t):
        frames[i, 10:26, 2 + 3 * i:18 + 3 * i, 1] = 230
    return frames


def test_mp4_round_trip(tmp_path):
    """Every frame comes back, at the requested rate, close to the original (lossy H.264)."""
    pytest.importorskip("av")
    assert ev.mp4_codec() is not None and ev.resolve_video_format(None) == "mp4"
    frames = _moving_square()
    path = ev.write_mp4(frames, tmp_path / "a.mp4", fps=20.0)
    back, rate = _decode(path)
    assert back.shape == frames.shape and rate == 20
    err = np.abs(back.astype(int) - frames.astype(int)).mean(axis=(1, 2, 3))
    assert err.max() < 6, err
    # The square moved in the decoded video too (not one frame repeated).
    assert back[-1, 18, 40, 1] > 150 and back[0, 18, 40, 1] < 80
    # Odd sides are padded to even (yuv420p); the content stays in the top-left corner.
    odd = ev.write_mp4(frames[:, :47, :63], tmp_path / "odd.mp4", fps=10.0)
    back, rate = _decode(odd)
    assert back.shape == (12, 48, 64, 3) and rate == 10


def test_video_format_checks(monkeypatch):
    with pytest.raises(ValueError, match="video_format"):
        ev.resolve_video_format("avi")
    assert ev.resolve_video_format("gif") == "gif"
    # Without an MP4 encoder the default falls back to GIF and an explicit "mp4" says what to install.
    monkeypatch.setattr(ev, "mp4_codec", lambda: None)
    assert ev.resolve_video_format(None) == "gif"
    with pytest.raises(ValueError, match="PyAV"):
        ev.resolve_video_format("mp4")


def test_grid_image_layout_and_borders():
    """Tiles in episode order, keyframes evenly spaced ending at the last frame, green/red frames."""
    h, w, b, gap = 6, 8, 3, 2
    eps = [np.full((t, h, w, 3), 0, np.uint8) for t in (5, 9, 2)]
    for e in eps:
        e[:, :, :, 2] = np.arange(len(e), dtype=np.uint8)[:, None, None] * 10  # blue = 10 * frame index
    success = [True, False, True]
    g = ev.grid_image(eps, success, keyframes=1, border=b, gap=gap)
    th, tw = h + 2 * b, w + 2 * b
    cols = 2  # ceil(sqrt(3))
    assert g.shape == (2 * th + 3 * gap, cols * tw + 3 * gap, 3)
    for i, (e, ok) in enumerate(zip(eps, success, strict=True)):
        r, c = divmod(i, cols)
        y, x = gap + r * (th + gap), gap + c * (tw + gap)
        colour = ev.SUCCESS_RGB if ok else ev.FAILURE_RGB
        assert tuple(g[y, x]) == colour and tuple(g[y + th - 1, x + tw - 1]) == colour
        assert g[y + b + 1, x + b + 1, 2] == 10 * (len(e) - 1)  # the last frame
    assert (g[:gap] == 255).all()  # white gaps
    # Three keyframes: first, middle, last, side by side; one column of tiles.
    g3 = ev.grid_image(eps[:2], [True, False], keyframes=3, border=b, gap=gap)
    assert g3.shape == (2 * th + 3 * gap, 3 * w + 2 * b + 2 * gap, 3)
    row = g3[gap + th + gap + b + 1, gap + b::w, 2][:3]  # episode 1 (9 frames): frames 0, 4, 8
    np.testing.assert_array_equal(row, [0, 40, 80])
    np.testing.assert_array_equal(ev.keyframe_indices(2, 3), [0, 1])
    with pytest.raises(ValueError, match="success flag"):
        ev.grid_image(eps, [True])


class ExpertThenIdle:
    """The scripted expert in environment 0, holding the start pose elsewhere: one success, one failure."""

    wants_state = True

    def __init__(self, env):
        self.expert = ev.expert_policy(env)

    def reset(self, n):
        self.start = None

    def __call__(self, state, rng):
        action = np.array(self.expert(state, rng))
        if self.start is None:
            self.start = np.asarray(state.obs["state"])[:, 0:5].copy()
        action[1:] = self.start[1:]
        return action


@pytest.mark.slow
def test_evaluate_writes_mp4_and_grid(env, tmp_path):
    """Two episodes (a success, a failure) rendered to MP4 + grid (~130 software-EGL frames: ~15-30 s)."""
    pytest.importorskip("av")
    from PIL import Image

    out = ev.evaluate(ExpertThenIdle(env), env, n_envs=BATCH, episodes=2, seed=7, videos=3,
                      video_dir=tmp_path, video_size=(48, 64))
    assert out["successes"] == 1 and out["episodes"] == 2
    # Only the evaluated episodes are recorded, though the batch has more environments.
    assert [p.rsplit("/", 1)[1] for p in out["videos"]] == ["episode_000.mp4", "episode_001.mp4"]
    for path, length in zip(out["videos"], out["episode_lengths"], strict=True):
        frames, rate = _decode(path)
        assert frames.shape == (length + 1, 48, 64, 3) and rate == round(1 / env.dt)
    # The first frame is the reset scene as MuJoCo renders it.
    k_reset = ev.episode_keys(7, 0, 1)[0]
    qpos0 = np.asarray(ev.batched(env).reset(env.mjx_model, k_reset).data.qpos[0])
    ref = ev.render_qpos(env, [qpos0], (48, 64))[0]
    first, _ = _decode(out["videos"][0])
    assert np.abs(first[0].astype(int) - ref.astype(int)).mean() < 6
    grid = np.asarray(Image.open(out["grid"]).convert("RGB"))
    assert grid.shape == (48 + 6 + 4, 2 * (64 + 6) + 6, 3)
    assert tuple(grid[2, 2]) == ev.SUCCESS_RGB and tuple(grid[2, 2 + 70 + 2]) == ev.FAILURE_RGB


def _eval_cli(argv, monkeypatch, capsys):
    from jaxrobot.cli import eval as commands
    from jaxrobot.policies import evaluation

    calls = {}

    def fake(workdir, task, episodes, **kw):
        calls.update(kw, workdir=workdir)
        vids = [f"{kw['video_dir']}/episode_000.mp4"] if kw["videos"] else []
        return {"success_rate": 0.5, "episodes": episodes, "ci95": (0.1, 0.9), "step": 3, "videos": vids,
                "grid": f"{kw['video_dir']}/grid.png" if kw["videos"] else None}

    monkeypatch.setattr(evaluation, "evaluate_checkpoint", fake)
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    assert args.func(args) == 0
    return calls, capsys.readouterr().out


def test_eval_cli_video_flags(monkeypatch, capsys, tmp_path):
    base = ["eval", "--workdir", str(tmp_path), "--task", "pick_cube", "--episodes", "4", "--json"]
    calls, out = _eval_cli(base + ["--videos", "1", "--video-dir", "/tmp/v"], monkeypatch, capsys)
    assert calls["videos"] == 1 and calls["video_dir"] == "/tmp/v"
    res = json.loads(out.strip().splitlines()[-1])
    assert res["videos"] == ["/tmp/v/episode_000.mp4"] and res["grid"] == "/tmp/v/grid.png"
    calls, out = _eval_cli(base + ["--videos", "2"], monkeypatch, capsys)
    assert calls["video_dir"] == f"{tmp_path}/videos"
    calls, out = _eval_cli(base, monkeypatch, capsys)
    assert calls["video_dir"] is None and calls["videos"] == 0
    assert set(json.loads(out)) == {"success_rate", "episodes", "ci95"}  # unchanged without videos


def test_mixed_video_pick_shows_failures_and_successes():
    success = [True, True, False, True, False, False, True, True]
    assert ev._pick_videos(success, 4, "first") == [0, 1, 2, 3]
    assert ev._pick_videos(success, 4, "mixed") == [0, 1, 2, 4]  # half failures, the first of each
    assert ev._pick_videos(success, 5, "mixed") == [0, 1, 2, 3, 4]  # 2 failures, 3 successes
    assert ev._pick_videos([True] * 6, 4, "mixed") == [0, 1, 2, 3]  # no failure to show
    assert ev._pick_videos([False, False, True], 3, "mixed") == [0, 1, 2]  # too few successes: more failures
    assert ev._pick_videos([True, False], 6, "mixed") == [0, 1]
    with pytest.raises(ValueError, match="video_pick"):
        ev.evaluate(None, "pick_cube", video_pick="best")
