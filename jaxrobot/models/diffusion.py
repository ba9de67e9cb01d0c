"""Diffusion Policy (Chi et al. 2023), 1-D conditional UNet, matching LeRobot 0.4.4's ``policies/diffusion``.

Observation encoder: per camera a ResNet-18 (GroupNorm in place of BatchNorm, no pretraining) up to
``layer4``, spatial soft-argmax over 32 keypoints, Linear + ReLU → 64 features; random crop in training,
centre crop in evaluation. Global conditioning = [state, image features] of each of the ``n_obs_steps``
frames, flattened. The denoiser is a 1-D UNet over the action sequence (``down_dims`` levels of two
FiLM-conditioned residual blocks; kernel 5, GroupNorm with 8 groups, Mish) conditioned on the
diffusion-step sinusoidal embedding (128) and the global conditioning. Trained as a DDPM (100 steps,
``squaredcos_cap_v2``, epsilon prediction); sampled with DDIM (10 steps) or DDPM, clipping x0 to [-1, 1],
which assumes MIN_MAX-normalised actions.

Parity with LeRobot (tested): 262,709,026 parameters at the PushT defaults (2-D state and action, one
96x96 camera cropped to 84x84) with down_dims (512, 1024, 2048), 76,070,434 with (256, 512, 1024).
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxrobot.config import Config, ConfigError, require
from jaxrobot.models.backbones import (
    BACKBONES,
    NORMS,
    OUTPUT_STRIDES,
    make_backbone,
    preprocess_image,
    stop_gradient_frozen,
)
from jaxrobot.models.diffusion_schedule import (
    add_noise,
    ddim_step,
    ddpm_step,
    inference_timesteps,
    make_alphas_cumprod,
)
from jaxrobot.models.rng import fast_key
from jaxrobot.models.spatial_softmax import SpatialSoftmax


@dataclasses.dataclass(frozen=True)
class DiffusionConfig(Config):
    """Diffusion Policy hyper-parameters; defaults are LeRobot 0.4.4's ``DiffusionConfig`` (PushT).

    Fields:
      action_dim: size of one action (must match the data's ``action``).
      horizon: length of the denoised action sequence (= the data's ``horizon``); 16.
      n_obs_steps: observation frames conditioned on (= the data's ``n_obs_steps``); 2.
      n_action_steps: actions executed per plan at run time, from index 0 of the chunk; 8. (jaxrobot's
        windows start the action chunk at the current step; LeRobot's start n_obs_steps - 1 steps earlier
        and execute from index n_obs_steps - 1: the same actions.)
      backbone: vision backbone, "resnet18" (reference) or "mobilenet_v3_small" (Jetson-class).
      backbone_norm: "group_norm" (reference: trained from scratch) or "frozen_bn".
      backbone_width: ResNet base width (64 = the real ResNet-18; smaller for CPU-sized variants).
      backbone_output_stride: 32 (reference), or 16 / 8 to keep a finer feature map on small images
        (ResNet-18 only; same weights, fewer strides: see ``backbones.py``).
      image_norm: image preprocessing: "imagenet" mean/std or "unit" [0, 1].
      crop_shape: (h, w) crop applied before the backbone; None disables cropping.
      crop_is_random: random crop in training (independently per image), centre crop in evaluation.
      use_separate_rgb_encoder_per_camera: one encoder per camera instead of a shared one.
      spatial_softmax_num_keypoints: keypoints of the spatial soft-argmax; 32.
      down_dims: UNet channels per level; (512, 1024, 2048). The sequence is halved between levels, so
        ``horizon`` must be divisible by 2 ** (len(down_dims) - 1).
      kernel_size: 1-D convolution kernel; 5.
      n_groups: GroupNorm groups in the UNet; 8.
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
    backbone: Literal["resnet18", "mobilenet_v3_small"] = "resnet18"
    backbone_norm: Literal["frozen_bn", "group_norm"] = "group_norm"
    backbone_width: int = 64
    backbone_output_stride: int = 32
    image_norm: Literal["imagenet", "unit"] = "imagenet"
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
            "backbone_width",
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
        require(self.backbone in BACKBONES, "backbone", f"{self.backbone!r} is not one of {BACKBONES}")
        require(self.backbone_norm in NORMS, "backbone_norm", f"{self.backbone_norm!r} is not one of {NORMS}")
        require(
            self.backbone_output_stride in OUTPUT_STRIDES
            and (self.backbone_output_stride == 32 or self.backbone == "resnet18"),
            "backbone_output_stride",
            f"must be one of {OUTPUT_STRIDES} (below 32 for resnet18 only), got {self.backbone_output_stride}",
        )
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


# torch's default Linear/Conv init: U(+-1/sqrt(fan_in)).
_torch_init = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


def mish(x: jax.Array) -> jax.Array:
    return x * jnp.tanh(jax.nn.softplus(x))


def sinusoidal_step_embedding(t: jax.Array, dim: int) -> jax.Array:
    """[B] timesteps → [B, dim]: (sin | cos) of t * exp(-log(10000) * i / (dim/2 - 1)), i < dim/2."""
    half = dim // 2
    freq = np.exp(np.arange(half) * -(math.log(10000.0) / (half - 1))).astype(np.float32)
    angle = t.astype(jnp.float32)[:, None] * freq[None]
    return jnp.concatenate([jnp.sin(angle), jnp.cos(angle)], axis=-1)


# ------------------------------------------------------------------ observation encoder


def crop_images(images: jax.Array, crop: tuple[int, int], rng: jax.Array | None) -> jax.Array:
    """[N, H, W, C] → [N, ch, cw, C]: random offsets per image when ``rng`` is given, else the centre."""
    n, h, w, _ = images.shape
    ch, cw = crop
    if (ch, cw) == (h, w):
        return images
    if rng is None:  # torchvision CenterCrop: offset round((H - h) / 2)
        top, left = int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0))
        return images[:, top : top + ch, left : left + cw]
    ry, rx = jax.random.split(rng)
    tops = jax.random.randint(ry, (n,), 0, h - ch + 1)
    lefts = jax.random.randint(rx, (n,), 0, w - cw + 1)

    def one(img, top, left):
        return jax.lax.dynamic_slice(img, (top, left, 0), (ch, cw, img.shape[-1]))

    return jax.vmap(one)(images, tops, lefts)


class RgbEncoder(nn.Module):
    """Image [N, H, W, 3] uint8 → [N, 2K] features: crop, backbone, spatial soft-argmax, Linear + ReLU."""

    cfg: DiffusionConfig

    @nn.compact
    def __call__(self, images: jax.Array, *, train: bool) -> jax.Array:
        c = self.cfg
        if c.crop_shape is not None:
            rng = self.make_rng("crop") if (train and c.crop_is_random) else None
            images = crop_images(images, tuple(c.crop_shape), rng)
        x = preprocess_image(images, c.image_norm)
        x = make_backbone(
                c.backbone, c.backbone_norm, c.backbone_width, output_stride=c.backbone_output_stride,
                module_name="backbone")(x)
        kp = SpatialSoftmax(c.spatial_softmax_num_keypoints, name="pool")(x)
        feat = kp.reshape(kp.shape[0], -1)
        return nn.relu(nn.Dense(feat.shape[-1], kernel_init=_torch_init, name="out")(feat))


class ObsEncoder(nn.Module):
    """Observation dict → global conditioning [B, n_obs_steps * (S + cameras * 2K)]."""

    cfg: DiffusionConfig

    @nn.compact
    def __call__(self, obs: dict[str, jax.Array], *, train: bool) -> jax.Array:
        c = self.cfg
        state = obs["observation/state"]
        b, t = state.shape[:2]
        parts = [state]
        cams = sorted(k for k in obs if k.startswith("observation/image_"))
        shared = None if c.use_separate_rgb_encoder_per_camera else RgbEncoder(c, name="rgb_encoder")
        for i, key in enumerate(cams):
            enc = shared or RgbEncoder(c, name=f"rgb_encoder_{i}")
            img = obs[key]
            feats = enc(img.reshape(b * t, *img.shape[2:]), train=train)
            parts.append(feats.reshape(b, t, -1).astype(state.dtype))
        return jnp.concatenate(parts, axis=-1).reshape(b, -1)


# ------------------------------------------------------------------ 1-D conditional UNet


def conv1d(x: jax.Array, kernel: jax.Array, stride: int = 1, padding: int = 0) -> jax.Array:
    """Cross-correlation [B, T, Cin] * [k, Cin, Cout] as one matmul over k shifted copies (im2col).

    XLA:CPU's convolution falls off its fast path when the kernel is longer than the sequence (the
    UNet's deepest level: kernel 5 over 4 steps): a 2048-channel fwd+bwd at batch 64 took 119 s there
    against 0.85 s as a matmul. The matmul form is as fast elsewhere and exports to plain MatMul.
    """
    k = kernel.shape[0]
    if padding:
        x = jnp.pad(x, ((0, 0), (padding, padding), (0, 0)))
    out_len = (x.shape[1] - k) // stride + 1
    span = (out_len - 1) * stride + 1
    cols = x if k == 1 else jnp.concatenate([x[:, i : i + span] for i in range(k)], axis=-1)
    if stride > 1:
        cols = cols[:, ::stride]
    return cols @ kernel.reshape(-1, kernel.shape[-1])


class Conv1d(nn.Module):
    """torch ``Conv1d`` (params ``kernel`` [k, Cin, Cout] and ``bias``, as ``nn.Conv``) via :func:`conv1d`."""

    features: int
    kernel_size: int = 1
    stride: int = 1
    padding: int = 0

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", _torch_init, (self.kernel_size, x.shape[-1], self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        return conv1d(x, kernel.astype(x.dtype), self.stride, self.padding) + bias.astype(x.dtype)


class Conv1dBlock(nn.Module):
    """Conv1d → GroupNorm → Mish (sequence layout [B, T, C])."""

    features: int
    kernel_size: int
    n_groups: int

    @nn.compact
    def __call__(self, x):
        x = Conv1d(self.features, self.kernel_size, padding=self.kernel_size // 2, name="conv")(x)
        return mish(nn.GroupNorm(num_groups=self.n_groups, epsilon=1e-5, name="norm")(x))


class ConditionalResidualBlock1d(nn.Module):
    """Two Conv1dBlocks with FiLM (out = scale * h + bias from the conditioning) after the first."""

    features: int
    cfg: DiffusionConfig

    @nn.compact
    def __call__(self, x, cond):
        c = self.cfg
        out = Conv1dBlock(self.features, c.kernel_size, c.n_groups, name="conv1")(x)
        n = 2 * self.features if c.use_film_scale_modulation else self.features
        film = nn.Dense(n, kernel_init=_torch_init, name="cond_encoder")(mish(cond))[:, None, :]
        if c.use_film_scale_modulation:
            out = film[..., : self.features] * out + film[..., self.features :]
        else:
            out = out + film
        out = Conv1dBlock(self.features, c.kernel_size, c.n_groups, name="conv2")(out)
        if x.shape[-1] != self.features:
            x = Conv1d(self.features, 1, name="residual_conv")(x)
        return out + x


class Upsample1d(nn.Module):
    """torch ``ConvTranspose1d(C, C, kernel_size=4, stride=2, padding=1)``: [B, T, Cin] → [B, 2T, C].

    Computed as a stride-1 convolution with 2C outputs, interleaved ("sub-pixel" form): XLA:CPU runs
    the input-dilated convolution of ``nn.ConvTranspose`` ~20x slower (1.05 s vs 0.05 s for a
    512-channel fwd+bwd here), which made a full-size step take minutes. ``kernel`` [4, Cin, C] holds
    torch's taps in torch's order (torch weight [Cin, C, 4] transposed), so y[2m] = x[m] K1 + x[m-1] K3
    and y[2m+1] = x[m+1] K0 + x[m] K2 (from o = 2i - 1 + k).
    """

    features: int

    @nn.compact
    def __call__(self, x):
        k = self.param("kernel", _torch_init, (4, x.shape[-1], self.features)).astype(x.dtype)
        bias = self.param("bias", nn.initializers.zeros, (self.features,)).astype(x.dtype)
        zero = jnp.zeros_like(k[0])
        even = jnp.stack([k[3], k[1], zero])  # taps at offsets -1, 0, +1 for the even outputs
        odd = jnp.stack([zero, k[2], k[0]])
        kernel = jnp.stack([even, odd], axis=-2).reshape(3, x.shape[-1], 2 * self.features)
        y = conv1d(x, kernel, padding=1)
        b, t, _ = x.shape
        return y.reshape(b, 2 * t, self.features) + bias


class ConditionalUnet1d(nn.Module):
    """Noisy actions [B, T, A], timesteps [B], global conditioning [B, G] → prediction [B, T, A]."""

    cfg: DiffusionConfig

    @nn.compact
    def __call__(self, x, timesteps, global_cond):
        c = self.cfg
        e = c.diffusion_step_embed_dim
        temb = sinusoidal_step_embedding(timesteps, e).astype(x.dtype)
        temb = nn.Dense(4 * e, kernel_init=_torch_init, name="diffusion_step_encoder_1")(temb)
        temb = nn.Dense(e, kernel_init=_torch_init, name="diffusion_step_encoder_3")(mish(temb))
        cond = jnp.concatenate([temb, global_cond.astype(x.dtype)], axis=-1)

        skips = []
        n_levels = len(c.down_dims)
        for i, dim in enumerate(c.down_dims):
            x = ConditionalResidualBlock1d(dim, c, name=f"down_{i}_0")(x, cond)
            x = ConditionalResidualBlock1d(dim, c, name=f"down_{i}_1")(x, cond)
            skips.append(x)
            if i < n_levels - 1:
                x = Conv1d(dim, 3, stride=2, padding=1, name=f"down_{i}_2")(x)
        x = ConditionalResidualBlock1d(c.down_dims[-1], c, name="mid_0")(x, cond)
        x = ConditionalResidualBlock1d(c.down_dims[-1], c, name="mid_1")(x, cond)
        # The reference pops the deepest skip first and upsamples after every up level.
        for i, dim in enumerate(reversed(c.down_dims[:-1])):
            x = jnp.concatenate([x, skips.pop()], axis=-1)
            x = ConditionalResidualBlock1d(dim, c, name=f"up_{i}_0")(x, cond)
            x = ConditionalResidualBlock1d(dim, c, name=f"up_{i}_1")(x, cond)
            x = Upsample1d(dim, name=f"up_{i}_2")(x)
        x = Conv1dBlock(c.down_dims[0], c.kernel_size, c.n_groups, name="final_conv_0")(x)
        return Conv1d(c.action_dim, 1, name="final_conv_1")(x)


class DiffusionNet(nn.Module):
    cfg: DiffusionConfig

    def setup(self):
        self.obs_encoder = ObsEncoder(self.cfg)
        self.unet = ConditionalUnet1d(self.cfg)

    def encode(self, obs, *, train: bool):
        return self.obs_encoder(obs, train=train)

    def denoise(self, x, timesteps, global_cond):
        return self.unet(x, timesteps, global_cond)

    def __call__(self, obs, x, timesteps, *, train: bool):
        return self.denoise(x, timesteps, self.encode(obs, train=train))


def _observation(batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
    return {k: v for k, v in batch.items() if k.startswith("observation/") and k != "observation/pad_mask"}


class DiffusionModel:
    """Diffusion Policy behind the trainer's model protocol (``models/base.py``).

    ``predict`` returns the whole denoised sequence [B, horizon, A], whose index 0 is the current step
    (``data/windows.py``); the runtime policy executes its first ``n_action_steps`` actions. LeRobot's
    sequences start ``n_obs_steps - 1`` steps in the past, so it executes from that index: same actions.
    """

    def __init__(self, config: DiffusionConfig):
        self.config = config
        self.net = DiffusionNet(config)
        self.alphas_cumprod = make_alphas_cumprod(
            config.num_train_timesteps, config.beta_schedule, config.beta_start, config.beta_end
        )

    def _check_batch(self, batch) -> None:
        c = self.config
        shape = tuple(batch["action"].shape[1:])
        if shape != (c.horizon, c.action_dim):
            raise ConfigError(
                f"config field 'model.horizon'/'model.action_dim': the model predicts "
                f"{(c.horizon, c.action_dim)} but the data's action sequence is {shape}"
            )
        n_obs = batch["observation/state"].shape[1]
        if n_obs != c.n_obs_steps:
            raise ConfigError(
                f"config field 'model.n_obs_steps': {c.n_obs_steps} but the data gives {n_obs} "
                f"observation frames"
            )
        for key in (k for k in batch if k.startswith("observation/image_")):
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
            _observation(batch),
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
        pred = self.net.apply(variables, _observation(batch), xt, t, train=True, rngs={"crop": crop_rng})
        target = noise if c.prediction_type == "epsilon" else x0
        err = jnp.square(pred - target.astype(pred.dtype))
        if c.do_mask_loss_for_padding:
            mask = batch["action_pad_mask"].astype(err.dtype)[..., None]
            loss = (err * mask).sum() / jnp.maximum(mask.sum() * err.shape[-1], 1.0)
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
        cond = self.net.apply(params, _observation(observation), train=False, method=DiffusionNet.encode)
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


def small_diffusion_config(**overrides) -> DiffusionConfig:
    """A CPU-sized Diffusion Policy (~0.5 M params with a camera): same topology, narrow widths.

    Width-8 ResNet-18, 8 keypoints, UNet (32, 64), step embedding 32; for tests and
    ``experiments/diffusion_synthetic_small.py``. ``overrides`` replace any field.
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
