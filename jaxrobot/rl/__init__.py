"""RL fine-tuning of imitation policies in MJX: PPO, a residual over a frozen base policy, the loop.

- :mod:`jaxrobot.rl.config`: the run's typed config (PPO, reward, residual, loop).
- :mod:`jaxrobot.rl.base_policy`: a ``jaxrobot train`` policy as pure functions inside the rollout.
- :mod:`jaxrobot.rl.ppo`: rollout, GAE, the masked PPO loss, one jitted iteration.
- :mod:`jaxrobot.rl.loop`: checkpoints, exact resume, metrics, evaluation, the learning curve.
- :mod:`jaxrobot.rl.finetuned`: the fine-tuned policy at run time (evaluation).
"""
