"""ACT on MJX push_t demos, state observations (pusher x, y + block pose), CPU-sized.

    jaxrobot sim gen-demos --task push_t --episodes 200 --out /tmp/demos_pusht
    jaxrobot train --config experiments/act_push_t_state.py --workdir /tmp/act_pusht \\
        --set data.path=/tmp/demos_pusht/jaxrobot_sim_push_t/1.0.0
    jaxrobot eval --workdir /tmp/act_pusht --task push_t --episodes 100

push_t runs at 10 Hz with absolute 2-D pusher targets (PushT's action); chunks of 10 (1 s) with temporal
ensembling; otherwise as ``act_pick_cube_state.py``. Coverage at episode end is reported by ``jaxrobot eval``
as the task metric; success is coverage > 0.95 as in PushT.
"""

from jaxrobot.data.rlds_source import RldsDataConfig
from jaxrobot.models.act import small_act_config
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig

CHUNK = 10


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="act_push_t_state",
        model=small_act_config(action_dim=2, chunk_size=CHUNK, n_action_steps=1, temporal_ensemble_coeff=0.01,
                               dim_model=128, n_heads=4, dim_feedforward=512, latent_dim=16),
        data=RldsDataConfig(path="out/demos_pusht/jaxrobot_sim_push_t/1.0.0", n_obs_steps=1, horizon=CHUNK,
                            normalization="mean_std"),
        optimizer=OptimizerConfig(lr=1e-4, warmup_steps=200, weight_decay=1e-4, grad_clip=10.0),
        train=TrainConfig(steps=4000, batch_size=64, log_every=200, checkpoint_every=1000, eval_every=2000,
                          eval_task="push_t", eval_episodes=50),
    )
