"""Residual PPO over ACT on MJX ``panda_peg_insertion`` (ResiP, Ankile et al. 2024, arXiv 2407.16677).

    jaxrobot sim gen-demos --task panda_peg_insertion --episodes 50 --out /tmp/peg50
    jaxrobot train --config experiments/act_panda_peg_insertion_state.py --workdir /tmp/act_peg50 \\
        --set data.path=/tmp/peg50/jaxrobot_sim_panda_peg_insertion/1.0.0
    jaxrobot rl finetune --base /tmp/act_peg50 --task panda_peg_insertion --workdir /tmp/rl_peg
    jaxrobot eval --workdir /tmp/rl_peg --task panda_peg_insertion --episodes 200 --seed 99 --json

The ACT base (from state, 50 demonstrations) brings the peg over the hole but misses the 0.8 mm clearance most of
the time; a per-step residual on its ``ee_pose`` action, at most 2% of each action dimension's half range (7 mm of
TCP position, ~0.02 of each rotation-matrix entry), learns the last millimetre from the task's success plus
potential-based shaping on its dense reward (alignment over the hole, insertion depth). ``--set mode=scratch`` is
the baseline: PPO with no base, its action spanning the whole action range, same budget.
Results: bench/RESULTS.md, "RL fine-tuning".
"""

from jaxrobot.rl.config import PPOConfig, RLConfig

__all__ = ["get_config"]


def get_config() -> RLConfig:
    return RLConfig(
        name="residual_ppo_panda_peg_insertion", task="panda_peg_insertion", mode="residual", residual_scale=0.02,
        # 400 iterations of 256 episodes x 150 steps: 15.4 M env steps.
        env_steps=15_360_000,
        ppo=PPOConfig(n_envs=256, epochs=4, minibatches=8, lr=3e-4, discount=0.99, gae_lambda=0.95,
                      clip_epsilon=0.2, hidden=(256, 256), init_noise_std=0.3),
        checkpoint_every=10, eval_every=20, eval_episodes=100)
