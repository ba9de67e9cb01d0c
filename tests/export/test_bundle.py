"""BC export round trip: ONNX and TFLite fp32 / fp16 / int8 against jax.jit, the bundle's contents, atomicity."""

import hashlib
import json

import numpy as np
import pytest

from jaxrobot.export import parity as parity_lib
from jaxrobot.export.bundle import export_checkpoint
from jaxrobot.export.errors import ExportError


def test_parity_report_covers_every_artifact(bc_bundle):
    out, report = bc_bundle
    written = json.loads((out / "parity.json").read_text())
    assert written == json.loads(json.dumps(report, sort_keys=True))
    expected = {"onnx/policy.onnx": ("onnx", "fp32"), "onnx/policy.b1.onnx": ("onnx", "fp32"),
                "tflite/policy.fp32.tflite": ("tflite", "fp32"), "tflite/policy.fp16.tflite": ("tflite", "fp16"),
                "tflite/policy.int8.tflite": ("tflite", "int8"), "tflite/policy.int8_full.tflite": ("tflite", "int8")}
    assert {k: (v["format"], v["precision"]) for k, v in written.items()} == expected
    for rel, rep in written.items():
        assert (out / rel).is_file()
        assert isinstance(rep["max_abs_err"], float)
        if rep["precision"] == "fp32":
            assert rep["ok"] and rep["max_abs_err"] < 1e-4, rel
        elif rep["precision"] == "fp16":
            assert rep["ok"] and rep["max_rel_err"] < 5e-2, rel
        else:
            assert not rep["gated"] and rep["max_abs_err"] < 0.5, rel  # reported, but sane
    assert written["onnx/policy.onnx"]["tensorrt_profile"] == "tensorrt-10"
    assert written["tflite/policy.int8_full.tflite"]["quantization"] == "full_integer"


def test_bundle_metadata_and_hashes(bc_bundle):
    from jaxrobot_runtime import load_bundle

    out, _ = bc_bundle
    meta = json.loads((out / "bundle.json").read_text())
    assert meta["format"] == "jaxrobot-export" and meta["format_version"] == 1
    rt = meta["runtime"]
    assert (rt["kind"], rt["n_obs_steps"], rt["horizon"], rt["n_action_steps"]) == ("chunk_policy", 2, 4, 4)
    assert meta["functions"]["policy"]["inputs"] == [{"name": "state", "shape": [None, 2, 8], "dtype": "float32"}]
    assert meta["parity"]["batch_sizes"] == [1, 8]
    assert {"config.json", "stats.json", "examples.npz", "parity.json"} <= set(meta["files"])
    assert len(meta["checkpoint"]["params_sha256"]) == 64
    bundle = load_bundle(out)
    assert bundle.verify_files() == []
    ex = bundle.example("bN", "policy", "out")["action"]
    assert ex.shape == (8, 4, 4)


def test_examples_are_jit_outputs_of_the_checkpoint(bc_workdir, bc_bundle):
    """The stored reference outputs are the trained model's predictions on the stored inputs."""
    from jaxrobot.policies.evaluation import load_policy

    out, _ = bc_bundle
    runner, _ = load_policy(bc_workdir)
    with np.load(out / "examples.npz") as z:
        x, ref = z["bN.policy.in.state"], z["bN.policy.out.action"]
    got = np.asarray(runner.predict(runner.params, {"observation/state": x}, None))
    np.testing.assert_allclose(got, ref, atol=1e-6)


def test_failed_parity_leaves_no_bundle(bc_workdir, tmp_path, monkeypatch):
    out = tmp_path / "b"
    monkeypatch.setattr(parity_lib, "FP32_ATOL", -1.0)  # nothing can pass
    with pytest.raises(ExportError, match=r"parity check failed.*onnx/policy.onnx: max_abs_err"):
        export_checkpoint(bc_workdir, out, formats=("onnx",), log=lambda s: None)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary folder left behind


def test_existing_bundle_is_kept_unless_overwrite(bc_workdir, tmp_path, monkeypatch):
    out = tmp_path / "b"
    out.mkdir()
    (out / "old").write_text("x")
    with pytest.raises(ExportError, match="already exists"):
        export_checkpoint(bc_workdir, out, formats=("onnx",), log=lambda s: None)
    monkeypatch.setattr(parity_lib, "FP32_ATOL", -1.0)
    with pytest.raises(ExportError):
        export_checkpoint(bc_workdir, out, formats=("onnx",), overwrite=True, log=lambda s: None)
    assert (out / "old").read_text() == "x"  # a failed export never touches the old bundle
    monkeypatch.undo()
    export_checkpoint(bc_workdir, out, formats=("onnx",), overwrite=True, log=lambda s: None)
    assert not (out / "old").exists() and (out / "bundle.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_bad_arguments(bc_workdir, tmp_path):
    with pytest.raises(ExportError, match="unknown export format 'tensorrt'"):
        export_checkpoint(bc_workdir, tmp_path / "x", formats=("tensorrt",))
    with pytest.raises(ExportError, match="unknown precision 'bf16'"):
        export_checkpoint(bc_workdir, tmp_path / "x", formats=("tflite",), precisions=("bf16",))


def test_cli_export_and_runtime_check(bc_workdir, tmp_path, capsys):
    import argparse

    from jaxrobot_runtime.cli import main as runtime_main

    from jaxrobot.cli import export as commands

    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())
    out = tmp_path / "cli"
    args = parser.parse_args(["export", "--workdir", str(bc_workdir), "--out", str(out), "--format", "onnx"])
    assert args.func(args) == 0
    assert "EXPORT_SUMMARY" in capsys.readouterr().out
    assert json.loads((out / "parity.json").read_text())["onnx/policy.onnx"]["format"] == "onnx"
    assert runtime_main(["check", str(out)]) == 0
    assert "CHECK OK" in capsys.readouterr().out
    # A damaged artifact makes check fail.
    with np.load(out / "examples.npz") as z:
        arrays = dict(z)
    arrays["b1.policy.out.action"] = arrays["b1.policy.out.action"] + 1.0
    np.savez(out / "examples.npz", **arrays)
    assert runtime_main(["check", str(out)]) == 1  # the sha256 no longer matches
    meta = json.loads((out / "bundle.json").read_text())
    meta["files"]["examples.npz"] = hashlib.sha256((out / "examples.npz").read_bytes()).hexdigest()
    (out / "bundle.json").write_text(json.dumps(meta))
    # bundle.json no longer matches MANIFEST.json: skip verification to reach the numbers
    assert runtime_main(["check", str(out), "--json", "--no-verify"]) == 1  # the numbers do not match either
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["bad_files"] == [] and not res["artifacts"]["onnx/policy.b1.onnx"]["ok"]


def test_tolerances_agree_with_runtime():
    from jaxrobot_runtime import check

    assert (check.FP32_ATOL, check.FP32_RTOL, check.FP16_REL) == (
        parity_lib.FP32_ATOL, parity_lib.FP32_RTOL, parity_lib.FP16_REL)
