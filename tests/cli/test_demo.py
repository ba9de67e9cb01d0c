"""``make demo``'s defaults point at files that exist (the full run is `make demo` itself, ~20 minutes)."""

import pathlib

from jaxrobot import config as C
from jaxrobot.cli import demo

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_demo_defaults_resolve_to_the_arm_recipe():
    assert demo.ROOT == REPO
    assert (demo.ROOT / "export" / "runtime" / "jaxrobot_runtime").is_dir()
    cfg = C.load_experiment(str(REPO / "experiments" / "act_panda_pick_cube.py") + ":state")
    assert cfg.train.eval_task == "panda_pick_cube" and cfg.model.action_dim == 10


def test_demo_errors_are_short(tmp_path, capsys):
    code = demo.run(["--out", str(tmp_path), "--config", str(tmp_path / "missing.py")])
    assert code == 2
    err = capsys.readouterr().err
    assert "missing.py does not exist" in err and "Traceback" not in err
    assert not tmp_path.joinpath("demos").exists()  # failed before generating anything
