"""ACT on MJX pick_cube demos, state observations: CPU-sized, scored closed loop while it trains.

    jaxrobot sim gen-demos --task pick_cube --episodes 200 --out /tmp/demos
    jaxrobot train --config experiments/act_pick_cube_state.py --workdir /tmp/act_pick_state \\
        --set data.path=/tmp/demos/jaxrobot_sim_pick_cube/1.0.0
    jaxrobot eval --workdir /tmp/act_pick_state --task pick_cube --episodes 100

The ACT topology at CPU widths (``small_act_config``: 2 encoder layers, 1 decoder layer, CVAE over the
chunk, no camera here) predicting chunks of 20 absolute 5-D targets (1 s at 20 Hz), run with the original
ACT's temporal ensembling (re-plan every step, m = 0.01). lr 1e-4 rather than ACT's 1e-5: the reference
rate is tuned for a 52 M-parameter model at batch 8 (LeRobot's ACTConfig), this one is 0.2 M at batch 64.
Success on 50 episodes is logged every 1,000 steps (``eval/success_rate`` in metrics.jsonl); measured
98% at step 1,000 (bench/RESULTS.md). ``make demo`` trains this config.
"""

from jaxrobot.data.rlds_source import RldsDataConfig
from jaxrobot.models.act import small_act_config
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig

CHUNK = 20


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="act_pick_cube_state",
        model=small_act_config(action_dim=5, chunk_size=CHUNK, n_action_steps=1, temporal_ensemble_coeff=0.01,
                               dim_model=128, n_heads=4, dim_feedforward=512, latent_dim=16),
        data=RldsDataConfig(path="out/demo/demos/jaxrobot_sim_pick_cube/1.0.0", n_obs_steps=1, horizon=CHUNK,
                            normalization="mean_std"),
        optimizer=OptimizerConfig(lr=1e-4, warmup_steps=200, weight_decay=1e-4, grad_clip=10.0),
        train=TrainConfig(steps=2000, batch_size=64, log_every=200, checkpoint_every=1000, eval_every=1000,
                          eval_task="pick_cube", eval_episodes=50),
    )
