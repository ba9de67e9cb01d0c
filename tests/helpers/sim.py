"""The one batch size and seed every fast simulation test shares, so the batched MJX step compiles once per
session (12-60 s here) and the persistent compilation cache serves the next session; and the checks the sim tests
share (episode outcomes of a batch rollout, the Panda's gravity torques from MuJoCo C)."""

import functools

import mujoco
import numpy as np

BATCH = 32
SEED = 0


def episode_success(roll: dict[str, np.ndarray]) -> np.ndarray:
    """bool [n]: each env's ``success`` at its first ``done`` (False if it never ended) in a batch rollout."""
    done = roll["done"]
    first = done.argmax(axis=1)
    return roll["success"][np.arange(len(done)), first] & done.any(axis=1)


def panda_gravity_c(m: mujoco.MjModel, d: mujoco.MjData) -> np.ndarray:
    """Arm gravity torques from MuJoCo C's data (a second implementation of ``PandaTask.gravity_torque``)."""
    out = np.zeros(7)
    for j in range(7):
        b = m.jnt_bodyid[j]
        out[j] = -d.xaxis[j] @ np.cross(d.subtree_com[b] - d.xanchor[j], m.body_subtreemass[b] * m.opt.gravity)
    return out


def check_expert_in_action_space(task: str, space: str, seed: int, n: int) -> None:
    """The Panda task's scripted expert drives action space ``space``: >= 97% of ``n`` seeded episodes succeed,
    and ``joint_pos`` labels and executed actions stay inside the joint ranges."""
    from jaxrobot.sim import registry
    from jaxrobot.sim.batch import batched
    from jaxrobot.sim.demos import rollout_expert

    env = registry.load(task, overrides={"action_space": space})
    r = rollout_expert(batched(env), seed, 0, n)
    k = int(episode_success(r).sum())
    assert k / n >= 0.97, k
    if space == "joint_pos":
        for key in ("label", "executed"):
            q = r[key][..., 0:7]
            assert np.all(q >= env.kin.lower - 1e-6) and np.all(q <= env.kin.upper + 1e-6)


@functools.lru_cache(maxsize=4)
def ik_replay(env):
    """Replays a Panda env's ``ee_pose`` -> joint-target IK over episodes, batched: ``(q0 [B, 7], actions
    [B, T, 10]) -> q_cmd [B, T, 7]``, q_cmd[t] solved from q_cmd[t-1] and action[t] as the step does."""
    import jax

    from jaxrobot.sim.panda_arm import rot6d_to_matrix

    def body(q_cmd, action):
        a = env.clip_action(action)
        res = env.solve_ik(q_cmd, a[0:3], rot6d_to_matrix(a[3:9]))
        return res.q, res.q

    return jax.jit(jax.vmap(lambda q0, actions: jax.lax.scan(body, q0, actions)[1]))
