"""Bundles prove themselves: ``MANIFEST.json`` covers ``bundle.json`` and every file, the runtime refuses any
edit naming the file (``load_bundle``, ``Policy``, ``jaxrobot-runtime check``, ``jaxrobot eval --bundle``),
killed exporters' leftovers are removed, and a full disk gives one line and no partial bundle.

One small ONNX bundle is exported per module; every test tampers with a copy of it.
"""

import hashlib
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from jaxrobot.export.bundle import canonical_json, export_checkpoint, remove_orphans
from jaxrobot.export.errors import ExportError

RUNTIME_CLI = pathlib.Path(sys.executable).with_name("jaxrobot-runtime")
REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bundle(bc_workdir, tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("integrity") / "b"
    export_checkpoint(bc_workdir, out, formats=("onnx",), log=lambda s: None)
    return out


@pytest.fixture
def copy(bundle, tmp_path) -> pathlib.Path:
    dst = tmp_path / "copy"
    shutil.copytree(bundle, dst)
    return dst


def _edit_json(path: pathlib.Path, edit) -> None:
    value = json.loads(path.read_text())
    edit(value)
    path.write_text(json.dumps(value, indent=1) + "\n")


def _flip_byte(path: pathlib.Path, where: float = 0.6) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * where)] ^= 0x40
    path.write_bytes(bytes(data))


def _set(d: dict, keys: tuple, value) -> None:
    for k in keys[:-1]:
        d = d[k]
    d[keys[-1]] = value


# name -> (tamper(bundle folder), the file the error must name)
TAMPERS = {
    "n_action_steps": (lambda b: _edit_json(b / "bundle.json", lambda m: _set(m, ("runtime", "n_action_steps"), 2)),
                       "bundle.json"),
    "state_dim": (lambda b: _edit_json(b / "bundle.json", lambda m: _set(m, ("runtime", "state_dim"), 9)),
                  "bundle.json"),
    "input_shape": (lambda b: _edit_json(b / "bundle.json",
                                         lambda m: m["functions"]["policy"]["inputs"][0]["shape"].__setitem__(2, 9)),
                    "bundle.json"),
    "bundle_json_garbage": (lambda b: (b / "bundle.json").write_bytes(os.urandom(64)), "bundle.json"),
    "flipped_weight": (lambda b: _flip_byte(b / "onnx" / "policy.onnx"), "onnx/policy.onnx"),
    "stats_number": (lambda b: _edit_json(b / "stats.json",
                                          lambda s: s["action"]["mean"].__setitem__(0, s["action"]["mean"][0] + 0.5)),
                     "stats.json"),
    "deleted_artifact": (lambda b: (b / "onnx" / "policy.b1.onnx").unlink(), "onnx/policy.b1.onnx"),
    "truncated_examples": (lambda b: (b / "examples.npz").write_bytes((b / "examples.npz").read_bytes()[:100]),
                           "examples.npz"),
    "deleted_manifest": (lambda b: (b / "MANIFEST.json").unlink(), "MANIFEST.json"),
    "manifest_garbage": (lambda b: (b / "MANIFEST.json").write_text("{not json"), "MANIFEST.json"),
    "artifact_dropped_from_manifest": (
        lambda b: _edit_json(b / "MANIFEST.json", lambda m: m["files"].pop("onnx/policy.onnx")), "onnx/policy.onnx"),
}


def _run_cli(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("JAXROBOT_DEBUG", None)
    env.update(env_extra or {})
    cmd = [str(RUNTIME_CLI)] if RUNTIME_CLI.exists() else [sys.executable, "-m", "jaxrobot_runtime"]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120, env=env)


def _assert_short_failure(proc: subprocess.CompletedProcess, name: str) -> None:
    text = proc.stdout + proc.stderr
    assert proc.returncode not in (0, 3), text
    assert name in text, text
    assert "Traceback (most recent call last):" not in text, text
    assert len(text.strip().splitlines()) <= 20, text


def test_untampered_bundle_verifies(bundle):
    from jaxrobot_runtime import Policy, check_bundle, load_bundle, verify_bundle

    verify_bundle(bundle)
    b = load_bundle(bundle)
    assert b.verified and b.verify_files() == []
    assert check_bundle(bundle)["ok"]
    policy = Policy(b, "onnx")
    assert policy({"state": np.asarray(b.stats["state"]["mean"], np.float32)[None]}).shape == (1, 4)
    proc = _run_cli("check", str(bundle))
    assert proc.returncode == 0 and "CHECK OK" in proc.stdout, proc.stdout + proc.stderr


def test_manifest_covers_bundle_json_and_every_file(bundle):
    """The manifest's hashes are the files' sha256 and bundle.json's canonical form (exporter == runtime)."""
    from jaxrobot_runtime import manifest as rt_manifest

    man = json.loads((bundle / "MANIFEST.json").read_text())
    assert (man["format"], man["version"], man["algorithm"]) == ("jaxrobot-export-manifest", 1, "sha256")
    on_disk = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    assert set(man["files"]) == on_disk - {"bundle.json", "MANIFEST.json"}
    for rel, digest in man["files"].items():
        assert hashlib.sha256((bundle / rel).read_bytes()).hexdigest() == digest, rel
    meta = json.loads((bundle / "bundle.json").read_text())
    assert canonical_json(meta) == rt_manifest.canonical_json(meta)
    assert hashlib.sha256(canonical_json(meta)).hexdigest() == man["bundle_json_sha256"]
    assert set(meta["files"]) == set(man["files"])  # bundle.json keeps its own "files" list too


@pytest.mark.parametrize("tamper", list(TAMPERS))
def test_tampered_bundle_is_refused(copy, tamper):
    from jaxrobot_runtime import BundleIntegrityError, Policy, load_bundle

    edit, name = TAMPERS[tamper]
    edit(copy)
    with pytest.raises(BundleIntegrityError) as info:
        Policy(load_bundle(copy), "onnx")
    assert info.value.file == name and name in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(BundleIntegrityError, match=name.replace(".", r"\.")):
        Policy(str(copy), "onnx")
    if tamper == "deleted_manifest":
        assert "older" in str(info.value)
    _assert_short_failure(_run_cli("check", str(copy)), name)
    _assert_short_failure(_run_cli("loop", str(copy), "--seconds", "0.05"), name)


@pytest.mark.parametrize("tamper", ["n_action_steps", "stats_number", "flipped_weight", "deleted_manifest"])
def test_verify_false_loads_a_changed_bundle(copy, tamper):
    """The documented escape hatch on a trusted robot: the edit takes effect, nothing is checked."""
    from jaxrobot_runtime import Policy, check_bundle, load_bundle

    TAMPERS[tamper][0](copy)
    b = load_bundle(copy, verify=False)
    assert not b.verified
    policy = Policy(b, "onnx")
    if tamper == "n_action_steps":
        assert policy.n_action_steps == 2
    state = np.asarray(b.stats["state"]["mean"], np.float32)[None]
    assert policy({"state": state}).shape == (1, 4)
    assert Policy(str(copy), "onnx", verify=False).bundle.verified is False
    res = check_bundle(copy, verify=False)
    assert not res["verified"] and res["bad_files"] == []
    proc = _run_cli("check", str(copy), "--no-verify")
    assert "hashes not verified" in proc.stdout and proc.returncode in (0, 1), proc.stdout + proc.stderr


def test_unlisted_files_are_allowed_and_reformatting_is_not_an_edit(copy):
    """A TensorRT engine built into BUNDLE/tensorrt/ is allowed; re-indenting bundle.json keeps it valid
    (it is hashed in canonical form); a schedule.json added to a bundle that has none is never read."""
    from jaxrobot_runtime import load_bundle

    (copy / "tensorrt").mkdir()
    (copy / "tensorrt" / "policy.fp16.engine").write_bytes(b"engine")
    (copy / "schedule.json").write_text('{"timesteps": [1]}')
    meta = json.loads((copy / "bundle.json").read_text())
    (copy / "bundle.json").write_text(json.dumps(meta, indent=4, sort_keys=True))
    b = load_bundle(copy)
    assert b.verify_files() == [] and b.schedule is None


def test_every_problem_is_reported_first_the_most_fundamental(copy):
    from jaxrobot_runtime import BundleIntegrityError, check_bundle, load_bundle

    TAMPERS["stats_number"][0](copy)
    TAMPERS["deleted_artifact"][0](copy)
    TAMPERS["n_action_steps"][0](copy)
    with pytest.raises(BundleIntegrityError) as info:
        load_bundle(copy)
    assert list(info.value.problems) == ["bundle.json", "onnx/policy.b1.onnx", "stats.json"]
    assert "also failing: onnx/policy.b1.onnx, stats.json" in str(info.value)
    res = check_bundle(str(copy))
    assert not res["ok"] and res["bad_files"] == ["bundle.json", "onnx/policy.b1.onnx", "stats.json"]
    assert res["artifacts"] == {}  # nothing of a damaged bundle is run


def test_damaged_artifact_without_verification_names_the_file(copy, tmp_path):
    """verify=False and a broken model file: a BundleError naming it, not an ONNX Runtime / LiteRT traceback."""
    from jaxrobot_runtime import BundleError, Policy, load_bundle
    from jaxrobot_runtime.backends import TFLiteRunner

    onnx = copy / "onnx" / "policy.onnx"
    onnx.write_bytes(onnx.read_bytes()[: onnx.stat().st_size // 3])
    (copy / "onnx" / "policy.b1.onnx").unlink()
    policy = Policy(load_bundle(copy, verify=False), "onnx")
    state = np.zeros((2, 8), np.float32)
    with pytest.raises(BundleError, match=r"onnx/policy\.onnx: ONNX Runtime cannot load this model"):
        policy({"state": state})
    policy.reset()
    with pytest.raises(BundleError, match=r"onnx/policy\.b1\.onnx: model file is missing"):
        policy({"state": state[:1]})
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(os.urandom(256))
    with pytest.raises(BundleError, match=r"junk\.tflite: LiteRT cannot load this model"):
        TFLiteRunner(str(junk))
    proc = _run_cli("check", str(copy), "--no-verify")
    _assert_short_failure(proc, "onnx/policy")
    assert "error:" in proc.stderr
    debug = _run_cli("check", str(copy), "--no-verify", env_extra={"JAXROBOT_DEBUG": "1"})
    assert debug.returncode != 0 and "Traceback (most recent call last):" in debug.stderr


def test_cli_errors_are_one_line(tmp_path):
    not_a_bundle = tmp_path / "empty"
    not_a_bundle.mkdir()
    for args in (["check", str(tmp_path / "missing")], ["check", str(not_a_bundle)],
                 ["trtexec", str(not_a_bundle)], ["loop", str(not_a_bundle), "--no-verify"]):
        proc = _run_cli(*args)
        _assert_short_failure(proc, "error:")
        assert proc.returncode == 2, proc.stderr


def test_eval_bundle_verifies(copy):
    """``jaxrobot eval --bundle`` (evaluate_bundle) refuses a changed bundle with a ConfigError naming the file."""
    from jaxrobot.config import ConfigError
    from jaxrobot.policies.evaluation import evaluate_bundle

    TAMPERS["stats_number"][0](copy)
    with pytest.raises(ConfigError, match=r"stats\.json: sha256 differs"):
        evaluate_bundle(copy, "pick_cube", episodes=1)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_orphaned_temp_folders_are_removed_by_the_next_export(bc_workdir, tmp_path):
    out = tmp_path / "b"
    host, dead = socket.gethostname(), _dead_pid()
    names = {
        "dead_tmp": f".b.tmp-0123abcd-{dead}-{host}", "dead_old": f".b.old-0123abce-{dead}-{host}",
        "live_tmp": f".b.tmp-0123abcf-{os.getpid()}-{host}", "other_host": f".b.tmp-0123abd0-{dead}-not-{host}",
        "legacy_stale": ".b.tmp-0123abd1", "legacy_fresh": ".b.tmp-0123abd2",
        "other_bundle": f".c.tmp-0123abd3-{dead}-{host}",
    }
    for name in names.values():
        (tmp_path / name).mkdir()
        (tmp_path / name / "onnx").mkdir()
        (tmp_path / name / "onnx" / "policy.onnx").write_bytes(b"partial")
    old = time.time() - 2 * 3600
    os.utime(tmp_path / names["legacy_stale"], (old, old))
    logs = []
    export_checkpoint(bc_workdir, out, formats=("onnx",), log=logs.append)
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {"b"} | {names[k] for k in ("live_tmp", "other_host", "legacy_fresh", "other_bundle")}
    assert sum("removed the leftover" in line for line in logs) == 3
    assert remove_orphans(out, log=lambda s: None) == []  # nothing else to remove


def _mount_tmpfs(path: pathlib.Path, size: str) -> bool:
    path.mkdir()
    if shutil.which("mount") is None:
        return False
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True,
                          timeout=30)
    return proc.returncode == 0


def test_disk_full_while_exporting(bc_workdir, bundle, tmp_path):
    """On a 200 kB tmpfs the 300 kB ONNX graph does not fit: one line naming it, nothing left behind; an
    existing bundle there survives an --overwrite export that runs out of space."""
    disk = tmp_path / "small"
    if not _mount_tmpfs(disk, "200k"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        with pytest.raises(ExportError, match=r"^no space left on device while writing .*onnx/policy\.onnx") as info:
            export_checkpoint(bc_workdir, disk / "b", formats=("onnx",), log=lambda s: None)
        assert "\n" not in str(info.value)
        assert list(disk.iterdir()) == []
        (disk / "b").mkdir()
        (disk / "b" / "keep").write_text("x")
        with pytest.raises(ExportError, match="no space left on device"):
            export_checkpoint(bc_workdir, disk / "b", formats=("onnx",), overwrite=True, log=lambda s: None)
        assert [p.name for p in disk.iterdir()] == ["b"] and (disk / "b" / "keep").read_text() == "x"
        # the command line: one short message naming the file, no traceback, exit status 1 (not 0, not 3)
        shutil.rmtree(disk / "b")
        proc = subprocess.run([sys.executable, "-m", "jaxrobot.cli", "export", "--workdir", str(bc_workdir), "--out",
                               str(disk / "b")], capture_output=True, text=True, timeout=600, cwd=REPO,
                              env={k: v for k, v in os.environ.items() if k != "JAXROBOT_DEBUG"})
        _assert_short_failure(proc, "no space left on device while writing")
        assert "onnx/policy.onnx" in proc.stderr and list(disk.iterdir()) == []
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True, timeout=30)
