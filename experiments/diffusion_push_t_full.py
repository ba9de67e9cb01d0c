"""Diffusion Policy at the reference size on MJX push_t camera demos: the GPU/TPU version of
``diffusion_push_t_image.py``.

    jaxrobot sim gen-demos --task push_t --episodes 1000 --image-size 96 --out /data/demos_img96
    jaxrobot train --config experiments/diffusion_push_t_full.py --workdir /ckpt/dp_pusht_full \\
        --set data.path=/data/demos_img96/jaxrobot_sim_push_t/1.0.0

GPU/TPU: LeRobot 0.4.4's Diffusion Policy defaults (ResNet-18 with GroupNorm from scratch, random 84 crops of
96, 32 spatial-softmax keypoints, UNet (512, 1024, 2048), kernel 5, 8 groups, FiLM scale+bias, DDPM 100
squaredcos_cap_v2 / DDIM 10, EMA power 0.75, AdamW lr 1e-4 betas (0.95, 0.999) wd 1e-6, cosine with 500
warm-up steps, batch 64, horizon 16, 2 observation frames, 8 actions per plan). On this 2-core CPU run a few
steps only (``--set train.steps=3``).
"""

from jaxrobot.data.rlds_source import RldsDataConfig
from jaxrobot.models.diffusion import DiffusionConfig
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="diffusion_push_t_full",
        model=DiffusionConfig(action_dim=2),
        data=RldsDataConfig(path="out/demos_img96/jaxrobot_sim_push_t/1.0.0", n_obs_steps=2, horizon=16,
                            normalization="min_max", state_keys=("steps/observation/state[0:2]",),
                            cameras=("top",), memory_mb=4096, workers=8),
        optimizer=OptimizerConfig(lr=1e-4, b1=0.95, b2=0.999, warmup_steps=500, weight_decay=1e-6, grad_clip=10.0),
        train=TrainConfig(steps=200_000, batch_size=64, log_every=100, checkpoint_every=10_000, eval_every=10_000,
                          eval_task="push_t", eval_episodes=100, ema_decay=0.9999, ema_power=0.75),
        description="GPU/TPU: Diffusion Policy at LeRobot 0.4.4 defaults on MJX push_t images",
    )
