"""An environment whose simulation goes non-finite mid-episode is ended there, counted, and kept out of the update.

MJX's soft contacts can blow up under a hard push (the first peg-insertion run hit NaN at iteration 139). Here the
real ``panda_peg_insertion`` env is wrapped so that a random half of the environments report a NaN state from their
fourth step on; one PPO iteration (from scratch, no base) must count exactly those environments, train only on
their steps before the blow-up, and leave every parameter finite.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

import jaxrobot.catalog  # noqa: F401 (registers the tasks)
from jaxrobot.rl import brax_parts, ppo
from jaxrobot.rl.config import PPOConfig, RLConfig
from jaxrobot.sim import registry

BLOWUP_STEP = 4
STEPS = 10
N = 8  # divides over the 8 fake CPU devices


class BlowsUp:
    """The real env; an environment drawn at reset (a flag carried in its observations) turns NaN at a step."""

    def __init__(self, env):
        self.env = env

    def __getattr__(self, name):
        return getattr(self.env, name)

    def reset_with(self, model, key):
        s = self.env.reset_with(model, key)
        return dataclasses.replace(s, obs={**s.obs, "blowup": doomed(key)})

    def step_with(self, model, state, action):
        nxt = self.env.step_with(model, state, action)
        bad = state.obs["blowup"] & (nxt.info["step"] >= BLOWUP_STEP)
        return dataclasses.replace(nxt, obs={**nxt.obs, "blowup": state.obs["blowup"],
                                             "state": jnp.where(bad, jnp.nan, nxt.obs["state"])})


def doomed(key):
    return jax.random.bernoulli(jax.random.fold_in(key, 7))


def test_non_finite_environments_are_ended_counted_and_masked():
    env = BlowsUp(registry.load("panda_peg_insertion", overrides={"episode_steps": STEPS}))
    cfg = RLConfig(name="t", task="panda_peg_insertion", mode="scratch",
                   ppo=PPOConfig(n_envs=N, minibatches=2, epochs=2, hidden=(16, 16)))
    sp = ppo.spaces(cfg, env, None)
    nets = brax_parts.make_networks(cfg.ppo, sp.obs_size, sp.action_size)
    tx = ppo.make_optimizer(cfg)
    run = ppo.init_run_state(cfg, sp, nets, tx)
    expected = np.asarray(jax.vmap(doomed)(ppo.train_reset_keys(cfg.seed, jnp.int32(0), N)))
    assert 0 < expected.sum() < N  # the draw really mixes both kinds

    keys = ppo.train_reset_keys(cfg.seed, jnp.int32(0), N)
    traj, episodes = jax.jit(lambda r, k: ppo.rollout(cfg, env, None, sp, nets, r.params, r.normalizer, None, k,
                                                      jax.random.PRNGKey(1)))(run, keys)
    np.testing.assert_array_equal(np.asarray(episodes["unstable"]), expected)
    valid = np.asarray(traj["valid"])
    # a doomed env's last valid step is the one whose next state blew up; the others run on
    assert (valid[:BLOWUP_STEP][:, expected]).all() and not valid[BLOWUP_STEP:][:, expected].any()
    assert valid[BLOWUP_STEP:][:, ~expected].any()
    np.testing.assert_array_equal(np.asarray(episodes["length"])[expected], BLOWUP_STEP)
    for k in ("obs", "reward", "logp"):
        assert np.isfinite(np.asarray(traj[k])).all(), k

    new, metrics = jax.jit(ppo.make_iteration(cfg, env, None, sp, nets, tx))(run, None)
    assert float(metrics["train/unstable_episodes"]) == expected.sum()
    for leaf in jax.tree.leaves((new.params, new.normalizer, metrics)):
        assert np.isfinite(np.asarray(leaf)).all()
    assert any(float(np.abs(np.asarray(a) - np.asarray(b)).max()) > 0
               for a, b in zip(jax.tree.leaves(new.params), jax.tree.leaves(run.params), strict=True))
