"""PPO's parts against closed forms: advantages with terminations, time-outs and finished episodes, the masked
loss, the action map, the shaped reward."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrobot.config import ConfigError, validate
from jaxrobot.rl import brax_parts, ppo
from jaxrobot.rl.config import PPOConfig, RewardConfig, RLConfig

CFG = RLConfig(name="t", task="panda_peg_insertion", ppo=PPOConfig(discount=0.9, gae_lambda=0.8))


def reference_gae(rewards, values, terminal, timeout, valid, gamma, lam):
    """GAE written out per environment: an episode is its valid steps; success ends it with no bootstrap; the
    time-out step itself is not trained on, and the step before it bootstraps from its state's value."""
    t_len, b = rewards.shape
    adv = np.zeros((t_len, b))
    target = np.zeros((t_len, b))
    for j in range(b):
        steps = [t for t in range(t_len) if valid[t, j] and not timeout[t, j]]
        acc = 0.0
        for t in reversed(steps):
            last = t + 1 >= t_len or not valid[t + 1, j] or terminal[t, j]
            nxt = 0.0 if terminal[t, j] else values[t + 1, j]
            delta = rewards[t, j] + gamma * nxt - values[t, j]
            acc = delta + (0.0 if last else gamma * lam * acc)
            adv[t, j] = acc
            target[t, j] = acc + values[t, j]
    return target, adv


def test_advantages_match_the_written_out_definition():
    rng = np.random.default_rng(0)
    t_len, b = 6, 3
    rewards = rng.normal(size=(t_len, b)).astype(np.float32)
    values = rng.normal(size=(t_len, b)).astype(np.float32)
    valid = np.ones((t_len, b), bool)
    terminal = np.zeros((t_len, b), bool)
    timeout = np.zeros((t_len, b), bool)
    terminal[2, 0] = True  # env 0 succeeds at step 2 ...
    valid[3:, 0] = False  # ... and its later steps are masked
    timeout[5, 1] = True  # env 1 runs out of time at the last step
    terminal[5, 2] = True  # env 2 succeeds at the last step
    traj = {"reward": jnp.asarray(rewards), "valid": jnp.asarray(valid), "terminal": jnp.asarray(terminal),
            "timeout": jnp.asarray(timeout)}
    target, adv = ppo.advantages(CFG, traj, jnp.asarray(values))
    ref_target, ref_adv = reference_gae(rewards, values, terminal, timeout, valid, 0.9, 0.8)
    mask = valid & ~timeout
    np.testing.assert_allclose(np.asarray(adv)[mask], ref_adv[mask], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(target)[mask], ref_target[mask], rtol=1e-5, atol=1e-5)


def _batch(rng, n, obs_size, act_size):
    return {"obs": jnp.asarray(rng.normal(size=(n, obs_size)), jnp.float32),
            "u": jnp.asarray(rng.normal(size=(n, act_size)), jnp.float32),
            "logp": jnp.asarray(rng.normal(size=n) - 3, jnp.float32),
            "adv": jnp.asarray(rng.normal(size=n), jnp.float32),
            "target": jnp.asarray(rng.normal(size=n), jnp.float32)}


def test_masked_transitions_change_neither_loss_nor_gradient():
    nets = brax_parts.make_networks(CFG.ppo, 5, 2)
    params = ppo.PPOParams(policy=nets.policy_network.init(jax.random.PRNGKey(0)),
                           value=nets.value_network.init(jax.random.PRNGKey(1)))
    normalizer = brax_parts.running_statistics.init_state(jax.ShapeDtypeStruct((5,), jnp.float32))
    rng = np.random.default_rng(0)
    batch = _batch(rng, 8, 5, 2)
    mask = jnp.asarray([1, 1, 0, 1, 0, 1, 1, 0], jnp.float32)
    garbage = _batch(rng, 8, 5, 2)
    mixed = {k: jnp.where(mask.reshape((-1,) + (1,) * (v.ndim - 1)) > 0, v, garbage[k] * 100) for k, v in batch.items()}
    key = jax.random.PRNGKey(2)

    def loss(b, m):
        return jax.value_and_grad(lambda p: ppo.ppo_loss(CFG, nets, p, normalizer, dict(b, mask=m), key)[0])(params)

    l1, g1 = loss(batch, mask)
    l2, g2 = loss(mixed, mask)
    keep = np.asarray(mask) > 0
    l3, g3 = loss({k: v[keep] for k, v in batch.items()}, jnp.ones(int(keep.sum())))
    for lx, gx in ((l2, g2), (l3, g3)):
        np.testing.assert_allclose(float(lx), float(l1), rtol=1e-5)
        for a, b in zip(jax.tree.leaves(gx), jax.tree.leaves(g1), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)


def test_fresh_residual_adds_nothing_but_noise():
    """The mean layer starts at zero: the deterministic fine-tuned policy at iteration 0 is the base policy."""
    sp = ppo.Spaces(obs_size=4, action_size=3, scale=np.full(3, 0.1, np.float32), low=-np.ones(3, np.float32),
                    high=np.ones(3, np.float32), centre=np.zeros(3, np.float32))
    nets = brax_parts.make_networks(CFG.ppo, 4, 3)
    run = ppo.init_run_state(CFG, sp, nets, ppo.make_optimizer(CFG))
    obs = jnp.asarray(np.random.default_rng(0).normal(size=(5, 4)), jnp.float32)
    u = ppo.deterministic_residual(nets, run.params, run.normalizer, obs)
    np.testing.assert_array_equal(np.asarray(u), 0.0)
    base = jnp.asarray([[0.5, -0.2, 0.95]] * 5)
    np.testing.assert_allclose(np.asarray(ppo.compose_action(sp, base, u)), np.asarray(base))
    # a saturated residual moves by at most `scale`, and the result stays inside the bounds
    a = ppo.compose_action(sp, base, jnp.full((5, 3), 7.0))
    np.testing.assert_allclose(np.asarray(a)[0], [0.6, -0.1, 1.0], rtol=1e-6)


def test_shaped_return_telescopes():
    """With discount 1 the shaping terms of an episode sum to phi(last) - phi(first)."""
    cfg = dataclasses.replace(CFG, ppo=PPOConfig(discount=1.0),
                              reward=RewardConfig(shaping=2.0, success=10.0, residual_penalty=0.0))
    phi = jnp.asarray([0.0, 0.3, 1.2, 0.7, 2.5])
    success = jnp.asarray([False, False, False, True])
    r = ppo.reward_of(cfg, phi[:-1], phi[1:], success, jnp.zeros((4, 2)))
    assert float(jnp.sum(r)) == pytest.approx(10.0 + 2.0 * (2.5 - 0.0))


def test_config_refuses_bad_values_naming_the_field():
    with pytest.raises(ConfigError, match="ppo.*minibatches|minibatches"):
        validate(dataclasses.replace(CFG, ppo=PPOConfig(minibatches=0)))
    with pytest.raises(ConfigError, match="residual_scale"):
        validate(dataclasses.replace(CFG, residual_scale=0.0))
