"""Fixed-seed outputs and gradient statistics of the small ACT and Diffusion Policy models.

``tests/models/test_regression.py`` recomputes these and compares them with
``tests/models/regression/<name>.npz``, so a refactor
cannot silently change what a model computes (LeRobot keeps the same kind of artifacts). After an
*intended* change, regenerate and commit the files:

    .venv/bin/python -m tests.helpers.regression

Values depend on the pinned jax/jaxlib (init uses "rbg" keys, see ``jaxrobot/nn/rng.py``).
"""

from __future__ import annotations

import pathlib

if __name__ == "__main__":  # run as a script (from the repository root): set jaxrobot's XLA flags first
    from jaxrobot import platform

    platform.configure()

import jax
import jax.numpy as jnp
import numpy as np

from jaxrobot.models.act import ACTModel
from jaxrobot.models.diffusion import DiffusionModel
from tests.helpers.model_fixtures import small_act, small_dp, synthetic_batch

DIR = pathlib.Path(__file__).resolve().parents[1] / "models" / "regression"


def _stats(model, batch) -> dict[str, np.ndarray]:
    variables = jax.jit(model.init)(jax.random.PRNGKey(0), batch)
    (loss, metrics), grads = jax.jit(jax.value_and_grad(model.loss, has_aux=True))(
        variables, batch, jax.random.PRNGKey(1)
    )
    obs = {k: v for k, v in batch.items() if k.startswith("observation/")}
    pred = jax.jit(model.predict)(variables, obs, jax.random.PRNGKey(2))
    out = {
        "param_sum": sum(jnp.sum(x) for x in jax.tree.leaves(variables["params"])),
        "param_sq_sum": sum(jnp.sum(x * x) for x in jax.tree.leaves(variables["params"])),
        "loss": loss,
        "grad_norm": jnp.sqrt(sum(jnp.sum(g * g) for g in jax.tree.leaves(grads["params"]))),
        "predict": pred,
    }
    out.update({f"metric/{k}": v for k, v in metrics.items()})
    for name, sub in grads["params"].items():
        out[f"grad_norm/{name}"] = jnp.sqrt(sum(jnp.sum(g * g) for g in jax.tree.leaves(sub)))
        out[f"grad_mean/{name}"] = sum(jnp.sum(g) for g in jax.tree.leaves(sub)) / sum(
            g.size for g in jax.tree.leaves(sub)
        )
    return {k: np.asarray(v, np.float64) for k, v in out.items()}


def act_small() -> dict[str, np.ndarray]:
    cfg = small_act()
    return _stats(ACTModel(cfg), synthetic_batch(n_obs_steps=1, horizon=cfg.chunk_size))


def diffusion_small() -> dict[str, np.ndarray]:
    cfg = small_dp()
    return _stats(DiffusionModel(cfg), synthetic_batch(n_obs_steps=cfg.n_obs_steps, horizon=cfg.horizon))


ARTIFACTS = {"act_small": act_small, "diffusion_small": diffusion_small}


def main() -> None:
    DIR.mkdir(exist_ok=True)
    for name, fn in ARTIFACTS.items():
        stats = fn()
        np.savez(DIR / f"{name}.npz", **stats)
        loss, grad_norm = float(stats["loss"]), float(stats["grad_norm"])
        print(f"wrote {DIR / name}.npz: loss={loss:.6f} grad_norm={grad_norm:.6f}")


if __name__ == "__main__":
    main()
