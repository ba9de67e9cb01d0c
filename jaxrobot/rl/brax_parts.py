"""The pieces of brax's PPO (``brax.training``, 0.14.2) jaxrobot uses, imported in one place.

brax imports ``mujoco.mjx``, which prints two "Failed to import warp" lines on stdout without warp; tools parse
jaxrobot's stdout, so brax is imported with stdout captured (as :mod:`jaxrobot.sim._mjx` does for mjx).
"""

from __future__ import annotations

import contextlib
import io

import jax
from flax import linen

from jaxrobot.rl.config import PPOConfig

with contextlib.redirect_stdout(io.StringIO()):
    from brax.training.acme import running_statistics
    from brax.training.agents.ppo import networks as ppo_networks
    from brax.training.agents.ppo.losses import compute_gae

__all__ = ["compute_gae", "make_networks", "running_statistics"]


def make_networks(cfg: PPOConfig, obs_size: int, action_size: int):
    """brax's PPO networks: a Gaussian policy with a learned state-independent std (log-parametrised, starting at
    ``init_noise_std``) whose mean layer starts at zero, so a fresh residual adds nothing but exploration noise to
    the base policy; a separate value MLP; both read observations through the running statistics."""
    return ppo_networks.make_ppo_networks(
        observation_size=obs_size, action_size=action_size,
        preprocess_observations_fn=running_statistics.normalize,
        policy_hidden_layer_sizes=tuple(cfg.hidden), value_hidden_layer_sizes=tuple(cfg.hidden),
        activation=linen.swish, distribution_type="normal", noise_std_type="log",
        init_noise_std=cfg.init_noise_std, mean_kernel_init_fn=lambda: jax.nn.initializers.zeros)
