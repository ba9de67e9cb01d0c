"""Diffusion Policy (Chi et al. 2023), 1-D conditional UNet, matching LeRobot 0.4.4's ``policies/diffusion``.

Observation encoder: per camera a ResNet-18 (GroupNorm in place of BatchNorm, no pretraining) up to
``layer4``, spatial soft-argmax over 32 keypoints, Linear + ReLU → 64 features; random crop in training,
centre crop in evaluation. Global conditioning = [state, image features] of each of the ``n_obs_steps``
frames, flattened (plus an optional ``observation/environment_state`` per frame, as LeRobot's). The denoiser
is a 1-D UNet over the action sequence (``down_dims`` levels of two FiLM-conditioned residual blocks; kernel
5, GroupNorm with 8 groups, Mish) conditioned on the diffusion-step sinusoidal embedding (128) and the global
conditioning. Trained as a DDPM (100 steps, ``squaredcos_cap_v2``, epsilon prediction); sampled with DDIM (10
steps) or DDPM, clipping x0 to [-1, 1], which assumes MIN_MAX-normalised actions.

Parity with LeRobot (tested): 262,709,026 parameters at the PushT defaults (2-D state and action, one
96x96 camera cropped to 84x84) with down_dims (512, 1024, 2048), 76,070,434 with (256, 512, 1024).

The UNet is :mod:`jaxrobot.nn.unet1d`, the backbone :mod:`jaxrobot.nn.backbones`, the keypoints
:mod:`jaxrobot.nn.spatial_softmax`; this module assembles the observation encoder and the denoiser, and holds
the loss and the samplers (schedules in :mod:`jaxrobot.models.diffusion_schedule`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxrobot.config import Config, ConfigError, require
from jaxrobot.models.diffusion_schedule import (
    add_noise,
    ddim_step,
    ddpm_step,
    inference_timesteps,
    make_alphas_cumprod,
)
from jaxrobot.models.export_plan import (
    ExportError,
    ExportFunction,
    ExportPlan,
    TensorSpec,
    as_obs,
    eval_shape,
    observation_inputs,
    observation_specs,
)
from jaxrobot.models.image_stats import CameraStats, check_image_stats, normalize_camera_image
from jaxrobot.models.policy_batch import (
    ENV_STATE_KEY,
    camera_keys,
    check_action_shape,
    masked_action_mean,
    model_inputs,
)
from jaxrobot.nn.augment import crop_images
from jaxrobot.nn.backbones import check_backbone_fields, make_backbone
from jaxrobot.nn.initializers import torch_default
from jaxrobot.nn.norms import stop_gradient_frozen
from jaxrobot.nn.rng import fast_key
from jaxrobot.nn.spatial_softmax import SpatialSoftmax
from jaxrobot.nn.unet1d import FINAL_CONV_GROUPS, ConditionalUnet1d


@dataclasses.dataclass(frozen=True)
class DiffusionConfig(Config):
    """Diffusion Policy hyper-parameters; defaults are LeRobot 0.4.4's ``DiffusionConfig`` (PushT).

    Fields:
      action_dim: size of one action (must match the data's ``action``).
      horizon: length of the denoised action sequence (= the data's ``horizon``); 16.
      n_obs_steps: observation frames conditioned on (= the data's ``n_obs_steps``); 2.
      n_action_steps: actions executed per plan at run time, from index ``action_offset`` of the chunk; 8.
      action_offset: index of the current step in the denoised sequence: 0 for jaxrobot's windows, which start
        the action chunk at the current step; n_obs_steps - 1 for a checkpoint trained by LeRobot, whose
        sequences start n_obs_steps - 1 steps earlier (the run-time policy executes from this index).
      backbone: vision backbone, "resnet18" (reference) or "mobilenet_v3_small" (Jetson-class).
      backbone_norm: "group_norm" (reference: trained from scratch) or "frozen_bn".
      backbone_width: ResNet base width (64 = the real ResNet-18; smaller for CPU-sized variants).
      backbone_output_stride: 32 (reference), or 16 / 8 to keep a finer feature map on small images
        (ResNet-18 only; same weights, fewer strides: see ``backbones.py``).
      image_norm: image preprocessing: "imagenet" mean/std, "unit" [0, 1], or "stats": each camera's own
        mean/std from ``image_stats`` (a LeRobot checkpoint's dataset statistics).
      image_stats: with image_norm="stats", one (camera, mean[3], std[3]) per camera, on pixels in [0, 1]
        (see :mod:`jaxrobot.models.image_stats`); empty otherwise.
      crop_shape: (h, w) crop applied before the backbone; None disables cropping.
      crop_is_random: random crop in training (independently per image), centre crop in evaluation.
      use_separate_rgb_encoder_per_camera: one encoder per camera instead of a shared one.
      spatial_softmax_num_keypoints: keypoints of the spatial soft-argmax; 32.
      down_dims: UNet channels per level; (512, 1024, 2048). The sequence is halved between levels, so
        ``horizon`` must be divisible by 2 ** (len(down_dims) - 1).
      kernel_size: 1-D convolution kernel; 5.
      n_groups: GroupNorm groups in the UNet's residual blocks; 8. Its final convolution block always has 8
        groups (as LeRobot's), so ``down_dims[0]`` must be divisible by 8 as well as by ``n_groups``.
      diffusion_step_embed_dim: size of the diffusion-step embedding; 128.
      use_film_scale_modulation: FiLM with scale and bias (True) or bias only.
      num_train_timesteps: DDPM steps; 100.
      beta_schedule: "squaredcos_cap_v2" (reference) or "linear" (beta_start..beta_end).
      beta_start, beta_end: the linear schedule's range.
      prediction_type: the UNet predicts "epsilon" (reference) or the clean "sample".
      clip_sample, clip_sample_range: clip the predicted clean sample to [-range, range] when sampling.
      sampler: "ddim" (deterministic, default) or "ddpm" (ancestral) at inference.
      num_inference_steps: denoising steps at inference; 10.
      do_mask_loss_for_padding: average the loss over unpadded actions only (LeRobot default: False).
    """

    kind: ClassVar[str] = "diffusion"
    action_dim: int = 2
    horizon: int = 16
    n_obs_steps: int = 2
    n_action_steps: int = 8
    action_offset: int = 0
    backbone: Literal["resnet18", "mobilenet_v3_small"] = "resnet18"
    backbone_norm: Literal["frozen_bn", "group_norm"] = "group_norm"
    backbone_width: int = 64
    backbone_output_stride: int = 32
    image_norm: Literal["imagenet", "unit", "stats"] = "imagenet"
    image_stats: tuple[CameraStats, ...] = ()
    crop_shape: tuple[int, int] | None = (84, 84)
    crop_is_random: bool = True
    use_separate_rgb_encoder_per_camera: bool = False
    spatial_softmax_num_keypoints: int = 32
    down_dims: tuple[int, ...] = (512, 1024, 2048)
    kernel_size: int = 5
    n_groups: int = 8
    diffusion_step_embed_dim: int = 128
    use_film_scale_modulation: bool = True
    num_train_timesteps: int = 100
    beta_schedule: Literal["squaredcos_cap_v2", "linear"] = "squaredcos_cap_v2"
    beta_start: float = 1e-4
    beta_end: float = 0.02
    prediction_type: Literal["epsilon", "sample"] = "epsilon"
    clip_sample: bool = True
    clip_sample_range: float = 1.0
    sampler: Literal["ddim", "ddpm"] = "ddim"
    num_inference_steps: int = 10
    do_mask_loss_for_padding: bool = False

    def check(self) -> None:
        for name in (
            "action_dim",
            "horizon",
            "n_obs_steps",
            "n_action_steps",
            "kernel_size",
            "n_groups",
            "spatial_softmax_num_keypoints",
            "num_train_timesteps",
        ):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        require(
            self.n_obs_steps - 1 + self.n_action_steps <= self.horizon,
            "n_action_steps",
            f"n_obs_steps - 1 + n_action_steps = {self.n_obs_steps - 1 + self.n_action_steps} "
            f"exceeds horizon {self.horizon}",
        )
        require(
            0 <= self.action_offset and self.action_offset + self.n_action_steps <= self.horizon,
            "action_offset",
            f"action_offset + n_action_steps = {self.action_offset + self.n_action_steps} must be in "
            f"[n_action_steps, horizon={self.horizon}]",
        )
        check_backbone_fields(self)
        check_image_stats(self.image_norm, self.image_stats)
        require(
            len(self.down_dims) >= 1 and all(d >= 1 for d in self.down_dims),
            "down_dims",
            "need at least one level, all >= 1",
        )
        require(
            all(d % self.n_groups == 0 for d in self.down_dims),
            "n_groups",
            f"every down_dims entry must be divisible by n_groups={self.n_groups}",
        )
        require(
            self.down_dims[0] % FINAL_CONV_GROUPS == 0,
            "down_dims",
            f"down_dims[0]={self.down_dims[0]} must be divisible by {FINAL_CONV_GROUPS} (the GroupNorm groups of the "
            f"UNet's final convolution block, fixed as in LeRobot)",
        )
        factor = 2 ** (len(self.down_dims) - 1)
        require(
            self.horizon % factor == 0,
            "horizon",
            f"{self.horizon} must be divisible by 2^(len(down_dims)-1) = {factor}",
        )
        require(self.kernel_size % 2 == 1, "kernel_size", "must be odd (same-length convolutions)")
        require(
            self.diffusion_step_embed_dim >= 4 and self.diffusion_step_embed_dim % 2 == 0,
            "diffusion_step_embed_dim",
            "must be even and >= 4",
        )
        require(self.crop_shape is None or min(self.crop_shape) >= 1, "crop_shape", "sizes must be >= 1")
        require(
            1 <= self.num_inference_steps <= self.num_train_timesteps,
            "num_inference_steps",
            f"must be in [1, num_train_timesteps={self.num_train_timesteps}]",
        )
        require(self.clip_sample_range > 0, "clip_sample_range", "must be > 0")


# ------------------------------------------------------------------ observation encoder


class RgbEncoder(nn.Module):
    """Image [N, H, W, 3] uint8 of camera ``camera`` (its batch key) → [N, 2K] features: crop, backbone, spatial
    soft-argmax, Linear + ReLU."""

    cfg: DiffusionConfig

    @nn.compact
    def __call__(self, images: jax.Array, camera: str, *, train: bool) -> jax.Array:
        c = self.cfg
        if c.crop_shape is not None:
            rng = self.make_rng("crop") if (train and c.crop_is_random) else None
            images = crop_images(images, tuple(c.crop_shape), rng)
        x = normalize_camera_image(images, camera, c.image_norm, c.image_stats)
        x = make_backbone(
            c.backbone, c.backbone_norm, c.backbone_width, output_stride=c.backbone_output_stride,
            module_name="backbone"
        )(x)
        kp = SpatialSoftmax(c.spatial_softmax_num_keypoints, name="pool")(x)
        feat = kp.reshape(kp.shape[0], -1)
        return nn.relu(nn.Dense(feat.shape[-1], kernel_init=torch_default, name="out")(feat))


class ObsEncoder(nn.Module):
    """Observation dict → global conditioning [B, n_obs_steps * (S + cameras * 2K (+ E))]: per frame the state,
    each camera's features (cameras sorted by name) and, when given, the environment state (LeRobot's order)."""

    cfg: DiffusionConfig

    @nn.compact
    def __call__(self, obs: dict[str, jax.Array], *, train: bool) -> jax.Array:
        c = self.cfg
        state = obs["observation/state"]
        b, t = state.shape[:2]
        parts = [state]
        cams = camera_keys(obs)
        shared = None if c.use_separate_rgb_encoder_per_camera else RgbEncoder(c, name="rgb_encoder")
        for i, key in enumerate(cams):
            enc = shared or RgbEncoder(c, name=f"rgb_encoder_{i}")
            img = obs[key]
            feats = enc(img.reshape(b * t, *img.shape[2:]), key, train=train)
            parts.append(feats.reshape(b, t, -1).astype(state.dtype))
        if ENV_STATE_KEY in obs:
            parts.append(obs[ENV_STATE_KEY].astype(state.dtype))
        return jnp.concatenate(parts, axis=-1).reshape(b, -1)


class DiffusionNet(nn.Module):
    cfg: DiffusionConfig

    def setup(self):
        c = self.cfg
        self.obs_encoder = ObsEncoder(c)
        self.unet = ConditionalUnet1d(
            out_dim=c.action_dim,
            down_dims=tuple(c.down_dims),
            kernel_size=c.kernel_size,
            n_groups=c.n_groups,
            step_embed_dim=c.diffusion_step_embed_dim,
            film_scale=c.use_film_scale_modulation,
        )

    def encode(self, obs, *, train: bool):
        return self.obs_encoder(obs, train=train)

    def denoise(self, x, timesteps, global_cond):
        return self.unet(x, timesteps, global_cond)

    def __call__(self, obs, x, timesteps, *, train: bool):
        return self.denoise(x, timesteps, self.encode(obs, train=train))


class DiffusionModel:
    """Diffusion Policy behind the trainer's model protocol (``models/base.py``).

    ``predict`` returns the whole denoised sequence [B, horizon, A], whose index ``action_offset`` is the
    current step: 0 for jaxrobot's windows (``data/windows.py``); a checkpoint imported from LeRobot, whose
    sequences start ``n_obs_steps - 1`` steps in the past, has ``action_offset = n_obs_steps - 1``. The runtime
    policy executes ``n_action_steps`` actions from that index.
    """

    def __init__(self, config: DiffusionConfig):
        self.config = config
        self.net = DiffusionNet(config)
        self.alphas_cumprod = make_alphas_cumprod(
            config.num_train_timesteps, config.beta_schedule, config.beta_start, config.beta_end
        )

    def _check_batch(self, batch) -> None:
        c = self.config
        check_action_shape(batch, "horizon", c.horizon, c.action_dim)
        n_obs = batch["observation/state"].shape[1]
        if n_obs != c.n_obs_steps:
            raise ConfigError(
                f"config field 'model.n_obs_steps': {c.n_obs_steps} but the data gives {n_obs} "
                f"observation frames"
            )
        for key in camera_keys(batch):
            h, w = batch[key].shape[2:4]
            if c.crop_shape is not None and (c.crop_shape[0] > h or c.crop_shape[1] > w):
                raise ConfigError(
                    f"config field 'model.crop_shape': {c.crop_shape} is larger than the "
                    f"{key} images ({h}x{w})"
                )

    def init(self, rng: jax.Array, batch: dict[str, jax.Array]):
        self._check_batch(batch)
        p_rng, c_rng = jax.random.split(rng)
        b = batch["action"].shape[0]
        return self.net.init(
            {"params": fast_key(p_rng), "crop": c_rng},
            model_inputs(batch),
            batch["action"],
            jnp.zeros((b,), jnp.int32),
            train=True,
        )

    def loss(self, params, batch, rng):
        c = self.config
        crop_rng, noise_rng, t_rng = jax.random.split(rng, 3)
        x0 = batch["action"]
        noise = jax.random.normal(noise_rng, x0.shape, x0.dtype)
        t = jax.random.randint(t_rng, (x0.shape[0],), 0, c.num_train_timesteps)
        xt = add_noise(self.alphas_cumprod, x0, noise, t)
        variables = stop_gradient_frozen(params)  # frozen-BN statistics, if backbone_norm="frozen_bn"
        pred = self.net.apply(variables, model_inputs(batch), xt, t, train=True, rngs={"crop": crop_rng})
        target = noise if c.prediction_type == "epsilon" else x0
        err = jnp.square(pred - target.astype(pred.dtype))
        if c.do_mask_loss_for_padding:
            loss = masked_action_mean(err, batch["action_pad_mask"])
        else:
            loss = err.mean()
        return loss, {"mse": loss}

    def predict(self, params, observation, rng):
        """Denoised normalised actions [B, horizon, A]: ``num_inference_steps`` of DDIM (or DDPM)."""
        c = self.config
        b = observation["observation/state"].shape[0]
        init_rng, step_rng = jax.random.split(rng)
        noise = jax.random.normal(init_rng, (b, c.horizon, c.action_dim), jnp.float32)
        step_noise = None
        if c.sampler == "ddpm":
            step_noise = jax.random.normal(step_rng, (c.num_inference_steps, *noise.shape), jnp.float32)
        return self.sample(params, observation, noise, step_noise)

    def sample(self, params, observation, noise, step_noise=None):
        """The sampling loop from given noise: [B, horizon, A] initial noise (and, for DDPM, per-step noise
        [num_inference_steps, B, horizon, A]). Random-free, so it exports (noise becomes a graph input)."""
        c = self.config
        cond = self.net.apply(params, model_inputs(observation), train=False, method=DiffusionNet.encode)
        b = cond.shape[0]
        x = noise.astype(cond.dtype)
        timesteps = inference_timesteps(c.num_train_timesteps, c.num_inference_steps)
        ratio = c.num_train_timesteps // c.num_inference_steps
        ac = self.alphas_cumprod
        kw = dict(
            prediction_type=c.prediction_type, clip_sample=c.clip_sample, clip_range=c.clip_sample_range
        )
        if c.sampler == "ddpm":
            if step_noise is None:
                raise ValueError("the DDPM sampler needs step_noise [num_inference_steps, B, horizon, A]")
            noises = step_noise.astype(x.dtype)
        else:
            noises = jnp.zeros((len(timesteps), 1, 1, 1), x.dtype)

        # Everything traced that the loop body reads is carried (jax2onnx cannot export captured tracers).
        def body(i, carry):
            x, cond, noises = carry
            t = jnp.asarray(timesteps)[i]
            out = self.net.apply(params, x, jnp.full((b,), t, jnp.int32), cond, method=DiffusionNet.denoise)
            if c.sampler == "ddpm":
                x = ddpm_step(ac, out, t, t - ratio, x, noises[i], **kw)
            else:
                x = ddim_step(ac, out, t, t - ratio, x, **kw)
            return x, cond, noises

        x, _, _ = jax.lax.fori_loop(0, len(timesteps), body, (x, cond, noises))
        return x

    def export_plan(self, params: Any, meta: dict[str, Any], example_batch) -> ExportPlan:
        """Diffusion Policy: ``encode`` + one DDIM ``denoise_step``; the runtime loops over the timesteps."""
        c = self.config
        if c.sampler != "ddim":
            raise ExportError(f"config field 'model.sampler': {c.sampler!r} is not exportable; export runs the "
                              f"deterministic DDIM loop (set model.sampler=ddim)")
        specs = observation_specs(example_batch)
        cond_dim = int(np.asarray(eval_shape(
            lambda o: self.net.apply(params, o, train=False, method=DiffusionNet.encode),
            model_inputs(example_batch))[-1]))
        ac = np.asarray(self.alphas_cumprod, np.float32)
        timesteps = inference_timesteps(c.num_train_timesteps, c.num_inference_steps)
        ratio = c.num_train_timesteps // c.num_inference_steps
        kw = dict(prediction_type=c.prediction_type, clip_sample=c.clip_sample, clip_range=c.clip_sample_range)

        def encode(*obs):
            return self.net.apply(params, as_obs(specs, obs), train=False, method=DiffusionNet.encode)

        def denoise_step(x, t, t_prev, cond):
            # t for every batch element, written without the (symbolic) batch size as a constant shape.
            t_batch = jnp.zeros_like(x[:, 0, 0], dtype=jnp.int32) + t
            out = self.net.apply(params, x, t_batch, cond, method=DiffusionNet.denoise)
            return ddim_step(ac, out, t, t_prev, x, **kw)

        x_spec = TensorSpec("x", (None, c.horizon, c.action_dim), "float32")
        cond_spec = TensorSpec("conditioning", (None, cond_dim), "float32")
        t_spec, tp_spec = TensorSpec("t", (), "int32"), TensorSpec("t_prev", (), "int32")

        def sample(batch, rng):
            obs = observation_inputs(batch, specs)
            cond = np.asarray(jax.jit(encode)(*obs.values()))
            b = cond.shape[0]
            x = rng.standard_normal((b, c.horizon, c.action_dim)).astype(np.float32)
            # A mid-trajectory step, where the sample is neither pure noise nor final.
            i = len(timesteps) // 2
            return {"encode": obs,
                    "denoise_step": {"x": x, "t": np.asarray(timesteps[i], np.int32),
                                     "t_prev": np.asarray(timesteps[i] - ratio, np.int32), "conditioning": cond}}

        functions = [ExportFunction("encode", encode, specs, ("conditioning",)),
                     ExportFunction("denoise_step", denoise_step, (x_spec, t_spec, tp_spec, cond_spec), ("x_prev",),
                                    full_int8=False)]
        schedule = {"sampler": "ddim", "eta": 0.0, "timesteps": [int(t) for t in timesteps], "step_ratio": int(ratio),
                    "num_train_timesteps": int(c.num_train_timesteps), "alphas_cumprod": ac.tolist(),
                    "prediction_type": c.prediction_type, "clip_sample": bool(c.clip_sample),
                    "clip_sample_range": float(c.clip_sample_range), "noise_shape": [c.horizon, c.action_dim],
                    "noise": "standard normal [B, horizon, action_dim], drawn by the caller"}
        runtime = {"kind": "diffusion_policy"}  # the exporter adds the loop parameters
        return ExportPlan(functions, runtime, sample, schedule)


def small_diffusion_config(**overrides) -> DiffusionConfig:
    """A CPU-sized Diffusion Policy (~0.5 M params with a camera): same topology, narrow widths.

    Width-8 ResNet-18, 8 keypoints, UNet (32, 64), step embedding 32; for tests and
    ``experiments/diffusion_synthetic.py:small``. ``overrides`` replace any field.
    """
    fields = dict(
        action_dim=4,
        horizon=8,
        n_obs_steps=2,
        n_action_steps=4,
        backbone_width=8,
        crop_shape=(40, 40),
        spatial_softmax_num_keypoints=8,
        down_dims=(32, 64),
        diffusion_step_embed_dim=32,
    )
    fields.update(overrides)
    return DiffusionConfig(**fields)
