"""jaxrobot's side of the LeRobot checkpoint parity tests: run an imported policy on the inputs LeRobot saw.

``reference.npz`` files are written by ``tests/interop/lerobot_side.py`` (LeRobot 0.4.4); every function here
reads the policy back from a jaxrobot workdir written by ``jaxrobot ckpt import-lerobot`` (or its library
call), so the tests cover the checkpoint as ``jaxrobot eval`` and ``jaxrobot export`` see it.
"""

from __future__ import annotations

import json
import os
import pathlib
import struct
import subprocess
import sys

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "testdata" / "lerobot_policies"
PEERS_PYTHON = REPO / ".venv-peers" / "bin" / "python"
LEROBOT_SIDE = REPO / "tests" / "interop" / "lerobot_side.py"


def reference(folder: pathlib.Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(spec, reference arrays) of a folder made by ``lerobot_side.py``."""
    spec = json.loads((folder / "spec.json").read_text())
    with np.load(folder / "reference.npz") as f:
        return spec, {k: f[k] for k in f.files}


def make_lerobot_policy(spec: dict, out: pathlib.Path) -> pathlib.Path:
    """Run ``lerobot_side.py`` in the peers venv for ``spec``; returns ``out`` (``checkpoint/``, ``reference.npz``)."""
    out.mkdir(parents=True, exist_ok=True)
    spec_path = out / "spec.in.json"
    spec_path.write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([str(PEERS_PYTHON), str(LEROBOT_SIDE), str(spec_path), str(out)], capture_output=True,
                          text=True, timeout=1800, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


def runtime_observation(ref: dict[str, np.ndarray], inputs: dict[str, str], prefix: str = "obs.") -> dict:
    """LeRobot's raw observation arrays (``obs.<LeRobot key>``) under jaxrobot's run-time names."""
    return {inputs[k[len(prefix):]]: v for k, v in ref.items() if k.startswith(prefix)}


def _model_batch(obs: dict[str, np.ndarray], stats: dict, n_obs: int | None) -> dict[str, np.ndarray]:
    """Normalised model inputs ``observation/<name>`` from raw run-time arrays; ``n_obs``: add and fill a time axis
    of that length with copies (one frame given), or None (the arrays have it)."""
    from jaxrobot.data.normalize import normalize

    out = {}
    for name, value in obs.items():
        value = np.asarray(value)
        if name == "state":
            value = normalize(value.astype(np.float32), stats["state"], stats["mode"]).astype(np.float32)
        if n_obs is not None:
            value = np.repeat(value[:, None], n_obs, axis=1)
        out[f"observation/{name}"] = value
    return out


def jax_outputs(workdir: pathlib.Path, ref: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The imported policy's outputs for every quantity ``ref`` holds, from the checkpoint in ``workdir``.

    ACT: ``chunk`` (``predict``) and ``first_action`` (the :class:`~jaxrobot.policies.runner.PolicyRunner`
    ``jaxrobot eval`` builds, on the raw frame). Diffusion Policy: ``eps`` (the denoiser), ``sample`` (the
    sampling loop from LeRobot's noise) and ``first_action`` (the PolicyRunner with its model call sampling
    from LeRobot's ``select_action`` noise).
    """
    import jax.numpy as jnp

    from jaxrobot.models.diffusion import DiffusionNet
    from jaxrobot.policies.evaluation import load_policy
    from jaxrobot.train import checkpoint as ckpt_lib

    runner, meta = load_policy(workdir)
    cfg = ckpt_lib.config_from_meta(meta)
    loaded = ckpt_lib.load_model_checkpoint(workdir, kind=type(cfg.model).kind)
    model, params, stats = loaded.model, loaded.params, meta["stats"]
    inputs = meta["lerobot_import"]["inputs"]
    frame = runtime_observation(ref, inputs)
    out: dict[str, np.ndarray] = {}
    if type(cfg.model).kind == "act":
        out["chunk"] = np.asarray(model.predict(params, _model_batch(frame, stats, 1)))
    else:
        hist = _model_batch(runtime_observation(ref, inputs, "hist."), stats, None)
        cond = model.net.apply(params, hist, train=False, method=DiffusionNet.encode)
        out["eps"] = np.asarray(model.net.apply(params, jnp.asarray(ref["x_t"]), jnp.asarray(ref["t"]), cond,
                                                method=DiffusionNet.denoise))
        out["sample"] = np.asarray(model.sample(params, hist, jnp.asarray(ref["noise"]),
                                                jnp.asarray(ref["step_noise"])))
        noise, step_noise = jnp.asarray(ref["select_noise"]), jnp.asarray(ref["select_step_noise"])
        runner.predict = lambda p, o, _rng: model.sample(p, o, noise, step_noise)
    runner.reset()
    out["first_action"] = np.asarray(runner(frame))
    return out


def runtime_first_action(bundle: pathlib.Path, ref: dict[str, np.ndarray], inputs: dict[str, str],
                         backend: str = "onnx") -> np.ndarray:
    """The first action of ``jaxrobot_runtime.Policy(load_bundle(bundle), backend)`` on LeRobot's frame (Diffusion
    Policy: from the initial noise LeRobot's ``select_action`` used)."""
    from jaxrobot_runtime import Policy, load_bundle

    kwargs = {}
    if "select_noise" in ref:
        kwargs["noise"] = lambda shape: ref["select_noise"][: shape[0]]
    policy = Policy(load_bundle(bundle), backend=backend, **kwargs)
    frame = {k: v[:1] for k, v in runtime_observation(ref, inputs).items()}  # a robot: batch 1
    return np.asarray(policy(frame))[0]


def write_safetensors(path: pathlib.Path, tensors: dict[str, np.ndarray]) -> None:
    """A minimal safetensors writer (float32 / int64 / uint8), for tests that edit a checkpoint without torch."""
    dtypes = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64", np.dtype(np.uint8): "U8"}
    header, blobs, offset = {}, [], 0
    for name, value in tensors.items():
        value = np.ascontiguousarray(value)
        raw = value.tobytes()
        header[name] = {"dtype": dtypes[value.dtype], "shape": list(value.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    path.write_bytes(struct.pack("<Q", len(head)) + head + b"".join(blobs))


def jaxrobot_cli(*args: str, cwd: pathlib.Path = REPO) -> subprocess.CompletedProcess:
    """``jaxrobot ARGS`` in its own process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "jaxrobot.cli", *args], capture_output=True, text=True, timeout=1800,
                          cwd=cwd)


def runtime_cli(*args: str) -> subprocess.CompletedProcess:
    """``jaxrobot-runtime ARGS`` in its own process."""
    return subprocess.run([sys.executable, "-m", "jaxrobot_runtime", *args], capture_output=True, text=True,
                          timeout=900, cwd=REPO)
