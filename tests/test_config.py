"""Configs: typed overrides, validation naming the field, JSON round trip, experiment files."""

import dataclasses
import pathlib
import re

import pytest

from jaxrobot import config as C
from jaxrobot.train.config import ExperimentConfig

ROOT = pathlib.Path(__file__).resolve().parents[1]


def load(*overrides):
    return C.load_experiment(ROOT / "experiments" / "bc_synthetic.py", overrides)


def test_overrides_parse_by_field_type():
    cfg = load("optimizer.lr=3e-4", "train.steps=7", "model.hidden=(32, 16)", "train.compute_dtype=bfloat16",
               "optimizer.module_lrs=(('mlp_0', 1e-5),)")
    assert cfg.optimizer.lr == 3e-4 and isinstance(cfg.optimizer.lr, float)
    assert cfg.train.steps == 7
    assert cfg.model.hidden == (32, 16)
    assert cfg.train.compute_dtype == "bfloat16"
    assert cfg.optimizer.module_lrs == (("mlp_0", 1e-5),)


@pytest.mark.parametrize("override, field", [
    ("optimizer.lr=-1", "optimizer.lr"),
    ("train.batch_size=abc", "train.batch_size"),
    ("train.compute_dtype=float16", "train.compute_dtype"),
    ("train.grad_accum=3", "train.grad_accum"),
    ("mesh.rules=(('.*', 'model'),)", "mesh.rules[0]"),
    ("optimizer.nope=1", "optimizer.nope"),
    ("model.dropout=1.5", "model.dropout"),
])
def test_bad_values_fail_naming_the_field(override, field):
    with pytest.raises(C.ConfigError, match=re.escape(f"'{field}'")):
        load(override)


def test_json_round_trip_rebuilds_the_same_config():
    cfg = load("optimizer.module_lrs=(('mlp_0', 1e-5),)")
    again = C.from_json(C.to_json(cfg))
    assert again == cfg
    assert isinstance(again, ExperimentConfig)
    assert dataclasses.asdict(again) == dataclasses.asdict(cfg)


def test_experiment_file_errors(tmp_path):
    with pytest.raises(C.ConfigError, match="does not exist"):
        C.load_experiment(tmp_path / "missing.py")
    bad = tmp_path / "bad.py"
    bad.write_text("x = 1\n")
    with pytest.raises(C.ConfigError, match="get_config"):
        C.load_experiment(bad)


def test_every_experiment_file_loads():
    for path in sorted((ROOT / "experiments").glob("*.py")):
        cfg = C.load_experiment(path)
        doc = path.read_text().split('"""')[1]
        assert "jaxrobot " in doc, f"{path.name}: docstring must open with the command that runs it"
        assert cfg.name


def test_checkpoint_config_rebuilds_in_a_fresh_process(tmp_path):
    """A saved config JSON rebuilds in a process that imported only jaxrobot.catalog (every kind), and an
    unknown kind fails naming it."""
    import subprocess
    import sys

    path = tmp_path / "config.json"
    path.write_text(C.to_json(load()))
    code = ("import sys, jaxrobot.catalog, jaxrobot.config as C; cfg = C.from_json(open(sys.argv[1]).read()); "
            "print(type(cfg.model).__name__, type(cfg.data).__name__)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["BCConfig", "SyntheticDataConfig"]
    with pytest.raises(C.ConfigError, match="unknown config kind 'no_such_kind'.*jaxrobot.catalog"):
        C.from_json('{"kind": "no_such_kind"}')
