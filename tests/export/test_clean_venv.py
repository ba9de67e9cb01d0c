"""The runtime installs alone into a fresh venv (no JAX, no TensorFlow) and checks a bundle there."""

import json
import pathlib
import shutil
import subprocess
import sys

import pytest

RUNTIME_SRC = pathlib.Path(__file__).resolve().parents[2] / "export" / "runtime"


@pytest.mark.slow
def test_runtime_in_clean_venv(bc_bundle, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    src = tmp_path / "runtime"  # build from a copy: pip leaves build/ and *.egg-info next to the sources
    shutil.copytree(RUNTIME_SRC, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"{src}[onnx]"],
                         capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr[-2000:]
    py = str(venv / "bin" / "python")
    probe = subprocess.run([py, "-c", "import importlib.util as u, json; "
                            "print(json.dumps([bool(u.find_spec(m)) for m in ('jax', 'tensorflow', 'jaxrobot', "
                            "'jaxrobot_runtime', 'onnxruntime')]))"], capture_output=True, text=True, timeout=60,
                           cwd=tmp_path)
    assert json.loads(probe.stdout) == [False, False, False, True, True]
    check = subprocess.run([str(venv / "bin" / "jaxrobot-runtime"), "check", str(bc_bundle[0])],
                           capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "onnx/policy.onnx" in check.stdout and "CHECK OK" in check.stdout
    loop = subprocess.run([str(venv / "bin" / "jaxrobot-runtime"), "loop", str(bc_bundle[0]), "--hz", "50",
                           "--seconds", "0.5"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert loop.returncode == 0 and json.loads(loop.stdout)["ticks"] == 25
