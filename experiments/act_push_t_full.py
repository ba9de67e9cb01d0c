"""ACT at the reference size on MJX push_t camera demos: the GPU/TPU version of ``act_push_t_image.py``.

    jaxrobot sim gen-demos --task push_t --episodes 1000 --image-size 96 --out /data/demos_img96
    jaxrobot train --config experiments/act_push_t_full.py --workdir /ckpt/act_pusht_full \\
        --set data.path=/data/demos_img96/jaxrobot_sim_push_t/1.0.0

GPU/TPU: LeRobot 0.4.4's ACT defaults (ResNet-18 with frozen BatchNorm and ImageNet normalisation,
dim_model 512, 8 heads, FFN 3200, 4+1 layers, CVAE with 4 layers and a 32-D latent, dropout 0.1, kl_weight 10,
AdamW lr 1e-5 with the backbone at 1e-5, weight decay 1e-4, clip 10, batch 8), chunk 10 (1 s at 10 Hz; the
reference's 100 is 2 s at 50 Hz) with temporal ensembling, 96x96 camera + proprioception. Load ImageNet
weights with ``--set model.pretrained_backbone=resnet18.npz`` (see ``models/resnet_convert.py``). On this
2-core CPU a step takes seconds: run a few only (``--set train.steps=3``), as the tests do.
"""

from jaxrobot.data.rlds_source import RldsDataConfig
from jaxrobot.models.act import ACTConfig
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig

CHUNK = 10


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="act_push_t_full",
        model=ACTConfig(action_dim=2, chunk_size=CHUNK, n_action_steps=1, temporal_ensemble_coeff=0.01),
        data=RldsDataConfig(path="out/demos_img96/jaxrobot_sim_push_t/1.0.0", n_obs_steps=1, horizon=CHUNK,
                            normalization="mean_std", state_keys=("steps/observation/state[0:2]",),
                            cameras=("top",), memory_mb=4096, workers=8),
        optimizer=OptimizerConfig(lr=1e-5, weight_decay=1e-4, grad_clip=10.0, schedule="constant",
                                  module_lrs=(("backbone", 1e-5),)),
        train=TrainConfig(steps=100_000, batch_size=8, log_every=100, checkpoint_every=10_000, eval_every=10_000,
                          eval_task="push_t", eval_episodes=100),
        description="GPU/TPU: ACT at LeRobot 0.4.4 defaults on MJX push_t images",
    )
