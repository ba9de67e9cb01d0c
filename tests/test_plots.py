"""PNG plots (jaxrobot.plots, ``jaxrobot plot``): curves read from metrics.jsonl, studies from JSON, clear errors."""

import json

import numpy as np
import pytest
from PIL import Image

from jaxrobot.cli import main
from jaxrobot.plots import Series, read_curve, save_line_plot


def _run(tmp_path, name, evals):
    run = tmp_path / name
    run.mkdir()
    lines = [{"step": 100, "loss": 1.0}]
    for step, rate in evals:
        lines.append({"step": step, "loss": 0.5, "eval/success_rate": rate, "eval/ci95_lo": rate - 0.1,
                      "eval/ci95_hi": min(1.0, rate + 0.1)})
    (run / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return run


def test_read_curve_takes_the_metric_and_its_interval(tmp_path):
    run = _run(tmp_path, "a", [(1000, 0.5), (2000, 0.75)])
    s = read_curve(run)
    assert s.label == "a" and list(s.x) == [1000, 2000] and list(s.y) == [0.5, 0.75]
    assert list(s.lo) == [0.4, 0.65] and list(s.hi) == [0.6, 0.85]
    loss = read_curve(run, "loss", label="loss")
    assert list(loss.x) == [100, 1000, 2000] and loss.lo is None
    with pytest.raises(ValueError, match="no 'eval/nope' logged"):
        read_curve(run, "eval/nope")


def test_series_lengths_must_agree():
    with pytest.raises(ValueError, match="same length"):
        Series("s", [1, 2], [1.0])
    with pytest.raises(ValueError, match="both lo and hi"):
        Series("s", [1], [1.0], lo=[0.5])


def test_plot_draws_bands_and_leaves_no_temp_file(tmp_path):
    out = save_line_plot(tmp_path / "p.png", [Series("s", [1, 2, 3], [0.2, 0.5, 0.9], [0.1, 0.4, 0.8],
                                                     [0.3, 0.6, 1.0])],
                         xlabel="x", ylabel="y", ylim=(0, 1), hline=0.8)
    img = np.asarray(Image.open(out).convert("RGB"))
    assert img.shape == (480, 768, 3)
    # The line is matplotlib's first colour (tab:blue, #1f77b4) and the band a light tint of it.
    blue = np.all(np.abs(img.astype(int) - [31, 119, 180]) < 30, axis=-1).sum()
    tint = np.all(np.abs(img.astype(int) - [210, 228, 240]) < 16, axis=-1).sum()
    assert blue > 200 and tint > 1000
    assert [p.name for p in tmp_path.iterdir()] == ["p.png"]


def test_cli_curves_and_points(tmp_path, capsys):
    a, b = _run(tmp_path, "a", [(1000, 0.5)]), _run(tmp_path, "b", [(1000, 0.7)])
    assert main(["plot", "curves", str(a), str(b), "--out", str(tmp_path / "c.png")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "c.png")
    assert main(["plot", "curves", str(a), str(b), "--label", "only one", "--out", str(tmp_path / "x.png")]) == 2
    assert "--label given 1 times for 2 run folders" in capsys.readouterr().err
    table = {"xlabel": "demonstrations", "ylabel": "success", "logx": True, "goal": 0.8,
             "series": [{"label": "ACT", "x": [25, 50, 100], "y": [0.3, 0.6, 0.9]}]}
    (tmp_path / "t.json").write_text(json.dumps(table))
    assert main(["plot", "points", str(tmp_path / "t.json"), "--out", str(tmp_path / "t.png")]) == 0
    assert Image.open(tmp_path / "t.png").size == (768, 480)
    (tmp_path / "bad.json").write_text(json.dumps({"series": []}))
    assert main(["plot", "points", str(tmp_path / "bad.json"), "--out", str(tmp_path / "b.png")]) == 2
    assert "not a plot table" in capsys.readouterr().err
    assert not (tmp_path / "b.png").exists() and not (tmp_path / "x.png").exists()
