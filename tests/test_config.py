"""Configs: typed overrides, validation naming the field, JSON round trip, experiment files."""

import dataclasses
import pathlib
import re
from typing import ClassVar

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
    ("optimizer.lr=inf", "optimizer.lr"),  # passed `lr > 0` before floats had to be finite
    ("optimizer.lr=nan", "optimizer.lr"),
    ("optimizer.lr=-inf", "optimizer.lr"),
    ("optimizer.grad_clip=inf", "optimizer.grad_clip"),
    ("optimizer.eps=inf", "optimizer.eps"),
    ("train.ema_power=inf", "train.ema_power"),
    ("optimizer.module_lrs=(('mlp_0', 1e999),)", "optimizer.module_lrs[0][1]"),
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


def test_non_finite_floats_are_refused_unless_a_field_allows_inf():
    @dataclasses.dataclass(frozen=True)
    class Bounds(C.Config):
        kind: ClassVar[str] = "test_bounds"
        low: float = 0.0
        high: float = dataclasses.field(default=float("inf"), metadata={C.ALLOW_INF: True})
        maybe: float | None = None

    C.validate(Bounds())
    C.validate(Bounds(high=-float("inf"), maybe=1.5))
    for bad, field in ((Bounds(low=float("inf")), "low"), (Bounds(high=float("nan")), "high"),
                       (Bounds(maybe=float("nan")), "maybe")):
        with pytest.raises(C.ConfigError, match=f"'{field}': must be a finite number"):
            C.validate(bad)


@pytest.mark.parametrize("source, spec, message", [
    ("def get_config(:\n    pass\n", "bad.py", r"bad.py, line 1: SyntaxError: invalid syntax: 'def get_config\(:'"),
    ("def get_config():\n\treturn 1\n  x = 2\n", "bad.py", r"bad.py, line 3: (Indentation|Tab)Error"),
    ("import no_such_module_here\n", "bad.py", r"bad.py, line 1: ModuleNotFoundError while loading: .*no_such"),
    ("def get_config():\n    return {}['x']\n", "bad.py", r"bad.py, line 2: get_config\(\) raised KeyError"),
    ("def get_config(v):\n    return 1 / 0\n", "bad.py:a", r"bad.py, line 2: get_config\('a'\) raised Zero"),
    ("VARIANTS = ('a',)\ndef get_config(v):\n    pass\n", "bad.py:b", r"bad.py: unknown variant 'b'; known: a"),
    ("def get_config():\n    pass\n", "bad.py:b", r"bad.py has no variants .*cannot select 'b'"),
    ("def get_config():\n    return 3\n", "bad.py", r"bad.py: get_config\(\) returned int"),
    ("x = 1\n", "bad.py:", r"empty variant"),
    ("x = 1\n", "bad.txt", r"bad.txt is not a .py file .*did you mean .*bad.py\?"),
    ("x = 1\n", "bda.py", r"bda.py does not exist \(similar: [^)]*bad.py\)"),
    ("x = 1\n", "sub.py", r"sub.py is a folder"),
])
def test_experiment_file_errors_name_the_file(tmp_path, source, spec, message):
    """Every way an experiment file can be wrong is a ConfigError naming the file (and the line)."""
    (tmp_path / "bad.py").write_text(source)
    (tmp_path / "bad.txt").write_text(source)
    (tmp_path / "sub.py").mkdir()
    with pytest.raises(C.ConfigError, match=message) as info:
        C.load_experiment(f"{tmp_path}/{spec}")
    assert "config" in str(info.value) and str(tmp_path) in str(info.value)


def test_state_only_experiment_says_so():
    """bc_pick_cube is a state-only policy: its data config reads no camera (cameras=None), so a rendered or
    corrupt frame in the demos can neither add a CNN nor break the run."""
    cfg = C.load_experiment(ROOT / "experiments" / "bc_pick_cube.py")
    assert cfg.data.cameras is None
    assert C.from_json(C.to_json(cfg)).data.cameras is None


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


@pytest.mark.parametrize("spec, overrides, message", [
    ("bad.py", [], r"^error: config file .*bad.py, line 2: SyntaxError"),
    ("bad.yaml", [], r"^error: config file .*bad.yaml is not a .py file"),
    ("missing.py", [], r"^error: config file .*missing.py does not exist"),
    (str(ROOT / "experiments" / "bc_synthetic.py:nope"), [], r"^error: config file .*bc_synthetic.py has no variants"),
    (str(ROOT / "experiments" / "bc_synthetic.py"), ["--set", "optimizer.lr=inf"],
     r"^error: config field 'optimizer.lr': must be a finite number, got inf$"),
])
def test_train_cli_config_errors_are_one_short_line(tmp_path, capsys, spec, overrides, message):
    """`jaxrobot train --config ...` on a bad config: exit != 0 and != 3, one line naming file (and line) or
    field, no traceback, and no workdir."""
    from jaxrobot.cli import main

    (tmp_path / "bad.py").write_text("def get_config():\n    return ExperimentConfig(name='x'\n")
    (tmp_path / "bad.yaml").write_text("name: x\n")
    path = spec if spec.startswith("/") else str(tmp_path / spec)
    code = main(["train", "--config", path, "--workdir", str(tmp_path / "run"), *overrides])
    out, err = capsys.readouterr()
    lines = (out + err).strip().splitlines()
    assert code not in (0, 3) and len(lines) == 1 and re.search(message, lines[0]), (code, out, err)
    assert not (tmp_path / "run").exists()
