"""Grasp networks: dense planar grasp maps (GG-CNN2 / GR-ConvNet) and a GQ-CNN-style candidate scorer.

Both follow the trainer's model protocol (``models/base.py``) and share the input pipeline and the
planar grasp representation of :mod:`jaxrobot.vision.grasp_repr`.

Batch layout, dense maps (:class:`GraspMapModel`, kind ``grasp_maps``):
  ``observation/depth``  float32 [B, H, W, 1]  metric z-depth (m); H and W divisible by 4.
  ``observation/rgb``    uint8   [B, H, W, 3]  optional; used when ``use_rgb`` (RGB-D input).
  ``grasp/quality``      float32 [B, H, W]     targets from :func:`~jaxrobot.vision.grasp_repr.encode_grasp_maps`
  ``grasp/cos2``, ``grasp/sin2``               cos 2θ, sin 2θ targets
  ``grasp/width``                              opening / ``max_width`` in [0, 1]
  ``grasp/mask``         float32 [B, H, W]     optional: pixels that count in the loss (e.g. valid depth).
``predict`` returns the raw maps [B, H, W, 4] (quality, cos2, sin2, width); ``predict_grasps`` decodes
them to the top-k planar grasps per image.

Batch layout, candidate scorer (:class:`GraspCandidateModel`, kind ``grasp_candidates``):
  ``observation/depth``  float32 [B, H, W, 1]  the scene's depth image (m).
  ``grasp/center``       float32 [B, 2]        candidate centre (u, v) px.
  ``grasp/angle``        float32 [B]           closing-axis angle θ (rad).
  ``grasp/depth``        float32 [B]           gripper depth (m) along the optical axis.
  ``grasp/success``      float32 [B]           1 if the executed grasp held the object, else 0.
``predict`` returns the success logit [B]; the crop is cut inside the model by
:func:`~jaxrobot.vision.grasp_candidates.crop_aligned`, and ``score_crops`` scores precomputed crops
(the part to export).

Export: pooling uses ``window_shape=``, the 2× upsampling is hand-written bilinear
(:func:`jaxrobot.nn.upsample.upsample2x`: ``jax.image.resize`` fails with a symbolic batch in jax2onnx), and
per-image means and the group norm (:class:`jaxrobot.nn.norms.GroupNorm`) use sums / counts (``jnp.mean``
breaks the ONNX graph at opset 17, see shared/FACTS.md "Export").
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxrobot.config import Config, ConfigError, require
from jaxrobot.models.export_plan import (
    ExportFunction,
    ExportPlan,
    TensorSpec,
    as_obs,
    observation_inputs,
    observation_specs,
)
from jaxrobot.nn.norms import GroupNorm
from jaxrobot.nn.upsample import upsample2x
from jaxrobot.vision.camera import Camera
from jaxrobot.vision.grasp_candidates import crop_aligned
from jaxrobot.vision.grasp_decode import GripperPoses, decode_grasp_maps, lift_grasps
from jaxrobot.vision.grasp_repr import PlanarGrasps

MAP_KEYS = ("quality", "cos2", "sin2", "width")


@dataclasses.dataclass(frozen=True)
class GraspMapConfig(Config):
    """Fields:
      arch: ``ggcnn2`` (Morrison et al. 2019, ``models/ggcnn2.py``: two conv pairs with max-pooling,
        two dilated convs, two bilinear-upsampling convs; ~66.7k params on depth) or ``grconvnet``
        (Kumra et al. IROS 2020, ``inference/models/grconvnet3.py``: 3 down-convs, residual blocks,
        3 transposed convs; ~1.9M params at 32 channels).
      use_rgb: RGB-D input (4 channels) instead of depth only.
      ggcnn2_filters: GG-CNN2 widths (first conv pair, second pair, dilated convs, upsampling convs).
      ggcnn2_dilations: dilation of the two dilated convs.
      grconvnet_channels: GR-ConvNet base width (32 in the paper; widths are c, 2c, 4c).
      grconvnet_res_blocks: number of residual blocks at 4c channels (5 in the paper).
      grconvnet_groups: groups of the group norm replacing GR-ConvNet's batch norm (batch statistics
        would need mutable state the trainer protocol does not carry).
      dropout: dropout rate before the heads during training (GR-ConvNet uses 0.1).
      loss: per-map ``mse`` (GG-CNN) or ``smooth_l1`` (GR-ConvNet); the four map losses are summed.
      angle_width_mask: ``none`` (both references: every pixel, zeros away from grasps) or ``positive``
        (cos2/sin2/width only where the quality target is > 0; quality still everywhere).
      depth_clip: after subtracting each image's mean depth, clip to ±depth_clip metres (GG-CNN's
        ``DepthImage.normalise``).
      depth_scale: then divide by this many metres, so that object-sized relief is O(1) (with Adam the
        first layer learns at a rate proportional to the input scale; raw relief is ~0.05).
      max_width: opening in pixels that the width map's 1.0 stands for (GG-CNN: 150 px at 300×300).
      top_k, min_distance, quality_threshold: decoding defaults for ``predict_grasps``.
    """

    kind: ClassVar[str] = "grasp_maps"
    arch: Literal["ggcnn2", "grconvnet"] = "ggcnn2"
    use_rgb: bool = False
    ggcnn2_filters: tuple[int, ...] = (16, 16, 32, 16)
    ggcnn2_dilations: tuple[int, ...] = (2, 4)
    grconvnet_channels: int = 32
    grconvnet_res_blocks: int = 5
    grconvnet_groups: int = 8
    dropout: float = 0.0
    loss: Literal["mse", "smooth_l1"] = "mse"
    angle_width_mask: Literal["none", "positive"] = "none"
    depth_clip: float = 1.0
    depth_scale: float = 0.1
    max_width: float = 150.0
    top_k: int = 5
    min_distance: int = 4
    quality_threshold: float = 0.2

    def check(self) -> None:
        require(len(self.ggcnn2_filters) == 4 and all(f >= 1 for f in self.ggcnn2_filters), "ggcnn2_filters",
                "need 4 widths >= 1")
        require(len(self.ggcnn2_dilations) == 2 and all(d >= 1 for d in self.ggcnn2_dilations),
                "ggcnn2_dilations", "need 2 dilations >= 1")
        require(self.grconvnet_channels >= 1, "grconvnet_channels", "must be >= 1")
        require(self.grconvnet_res_blocks >= 0, "grconvnet_res_blocks", "must be >= 0")
        require(self.grconvnet_groups >= 1 and self.grconvnet_channels % self.grconvnet_groups == 0,
                "grconvnet_groups", "must divide grconvnet_channels")
        require(0 <= self.dropout < 1, "dropout", "must be in [0, 1)")
        require(self.depth_clip > 0, "depth_clip", "must be > 0")
        require(self.depth_scale > 0, "depth_scale", "must be > 0")
        require(self.max_width > 0, "max_width", "must be > 0")
        require(self.top_k >= 1, "top_k", "must be >= 1")
        require(self.min_distance >= 0, "min_distance", "must be >= 0")


# ---------------------------------------------------------------- dense grasp maps


def _image_mean(x: jax.Array) -> jax.Array:
    """Per-image, per-channel mean over H, W of [B, H, W, C] as sum / count (exportable), corrected by the
    mean of the residuals (two-pass): the same value in exact arithmetic, but accurate to float32 rounding
    on every backend. A plain float32 sum of ~1,000 depths near 0.6 m is off by ~1e-3 when summed
    sequentially (ONNX Runtime's ReduceSum at batch > 1), which the depth scaling and a trained GG-CNN2
    amplify to ~4e-4 in the maps, beyond the export's fp32 parity tolerance."""
    n = x.shape[1] * x.shape[2]
    mean = jnp.sum(x, axis=(1, 2), keepdims=True) / n
    return mean + jnp.sum(x - mean, axis=(1, 2), keepdims=True) / n


def _inputs(obs: dict[str, jax.Array], use_rgb: bool, depth_clip: float, depth_scale: float) -> jax.Array:
    depth = obs["observation/depth"].astype(jnp.float32)
    x = jnp.clip(depth - _image_mean(depth), -depth_clip, depth_clip) / depth_scale
    if use_rgb:
        rgb = obs["observation/rgb"].astype(jnp.float32) / 255.0
        x = jnp.concatenate([x, rgb - _image_mean(rgb)], axis=-1)
    return x


class GGCNN2(nn.Module):
    """GG-CNN2 (Morrison, Corke & Leitner, IJRR 2019), 'SAME' padding so outputs match the input size."""

    filters: tuple[int, ...]
    dilations: tuple[int, ...]

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        f = self.filters
        x = nn.relu(nn.Conv(f[0], (11, 11), name="conv1")(x))
        x = nn.relu(nn.Conv(f[0], (5, 5), name="conv2")(x))
        x = nn.max_pool(x, window_shape=(2, 2), strides=(2, 2))
        x = nn.relu(nn.Conv(f[1], (5, 5), name="conv3")(x))
        x = nn.relu(nn.Conv(f[1], (5, 5), name="conv4")(x))
        x = nn.max_pool(x, window_shape=(2, 2), strides=(2, 2))
        x = nn.relu(nn.Conv(f[2], (5, 5), kernel_dilation=self.dilations[0], name="dilated1")(x))
        x = nn.relu(nn.Conv(f[2], (5, 5), kernel_dilation=self.dilations[1], name="dilated2")(x))
        x = nn.relu(nn.Conv(f[3], (3, 3), name="up1")(upsample2x(x)))
        x = nn.relu(nn.Conv(f[3], (3, 3), name="up2")(upsample2x(x)))
        return x


class ResidualBlock(nn.Module):
    features: int
    groups: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        y = nn.relu(GroupNorm(self.groups)(nn.Conv(self.features, (3, 3))(x)))
        y = GroupNorm(self.groups)(nn.Conv(self.features, (3, 3))(y))
        return x + y


class GRConvNet(nn.Module):
    """GR-ConvNet (Kumra, Joshi & Sahin, IROS 2020) trunk with group norm in place of batch norm."""

    channels: int
    res_blocks: int
    groups: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c, g = self.channels, self.groups

        def block(y, feats, kernel, stride, transpose=False, name=None):
            layer = nn.ConvTranspose if transpose else nn.Conv
            y = layer(feats, (kernel, kernel), strides=(stride, stride), name=name)(y)
            return nn.relu(GroupNorm(g, name=f"{name}_norm")(y))

        x = block(x, c, 9, 1, name="conv1")
        x = block(x, 2 * c, 4, 2, name="conv2")
        x = block(x, 4 * c, 4, 2, name="conv3")
        for i in range(self.res_blocks):
            x = ResidualBlock(4 * c, g, name=f"res{i + 1}")(x)
        x = block(x, 2 * c, 4, 2, transpose=True, name="conv4")
        x = block(x, c, 4, 2, transpose=True, name="conv5")
        return nn.ConvTranspose(c, (9, 9), name="conv6")(x)


class GraspMapNet(nn.Module):
    """Depth (or RGB-D) [B, H, W, 1|4] observation dict → maps [B, H, W, 4] (quality, cos2, sin2, width)."""

    cfg: GraspMapConfig

    @nn.compact
    def __call__(self, obs: dict[str, jax.Array], train: bool = False) -> jax.Array:
        cfg = self.cfg
        x = _inputs(obs, cfg.use_rgb, cfg.depth_clip, cfg.depth_scale)
        if cfg.arch == "ggcnn2":
            x = GGCNN2(cfg.ggcnn2_filters, cfg.ggcnn2_dilations, name="trunk")(x)
            head_kernel = (1, 1)
        else:
            x = GRConvNet(cfg.grconvnet_channels, cfg.grconvnet_res_blocks, cfg.grconvnet_groups,
                          name="trunk")(x)
            head_kernel = (2, 2)
        x = nn.Dropout(cfg.dropout, deterministic=not train)(x)
        heads = [nn.Conv(1, head_kernel, name=f"{k}_head")(x) for k in MAP_KEYS]
        return jnp.concatenate(heads, axis=-1)


def _observation(batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
    return {k: v for k, v in batch.items() if k.startswith("observation/")}


def _elementwise_loss(kind: str, pred: jax.Array, target: jax.Array) -> jax.Array:
    if kind == "mse":
        return jnp.square(pred - target)
    return optax.huber_loss(pred, target, delta=1.0)  # = PyTorch smooth_l1 with beta = 1


class GraspMapModel:
    """Dense planar grasp maps behind the model protocol (see the module docstring for the batch)."""

    def __init__(self, config: GraspMapConfig):
        self.config = config
        self.net = GraspMapNet(config)

    def _check_batch(self, batch):
        depth = batch.get("observation/depth")
        if depth is None or depth.ndim != 4 or depth.shape[-1] != 1:
            raise ConfigError("config field 'model': grasp_maps needs 'observation/depth' shaped [B, H, W, 1], "
                              f"got {None if depth is None else depth.shape}")
        if depth.shape[1] % 4 or depth.shape[2] % 4:
            raise ConfigError(f"config field 'model.arch': image size {depth.shape[1:3]} must be divisible by 4")
        if self.config.use_rgb and "observation/rgb" not in batch:
            raise ConfigError("config field 'model.use_rgb': the batch has no 'observation/rgb'")

    def init(self, rng, batch):
        self._check_batch(batch)
        return self.net.init({"params": rng}, _observation(batch))

    def loss(self, params, batch, rng):
        cfg = self.config
        pred = self.net.apply(params, _observation(batch), train=True, rngs={"dropout": rng})
        mask = batch.get("grasp/mask")
        mask = jnp.ones(pred.shape[:-1], jnp.float32) if mask is None else mask.astype(jnp.float32)
        metrics, total = {}, 0.0
        positive = (batch["grasp/quality"] > 0).astype(jnp.float32) * mask
        for i, key in enumerate(MAP_KEYS):
            err = _elementwise_loss(cfg.loss, pred[..., i], batch[f"grasp/{key}"].astype(jnp.float32))
            m = positive if (key != "quality" and cfg.angle_width_mask == "positive") else mask
            term = jnp.sum(err * m) / jnp.maximum(jnp.sum(m), 1.0)
            metrics[f"loss_{key}"] = term
            total = total + term
        metrics["loss"] = total
        return total, metrics

    def predict(self, params, observation, rng=None):
        """Raw maps [B, H, W, 4] (quality, cos2, sin2, normalised width)."""
        return self.net.apply(params, _observation(observation), train=False)

    def predict_grasps(self, params, observation, k: int | None = None, **decode_kw) -> PlanarGrasps:
        """Top-k planar grasps per image, [B, k] (decoded with GG-CNN's post-processing)."""
        cfg = self.config
        maps = self.predict(params, observation)
        kw = dict(k=k or cfg.top_k, max_width=cfg.max_width, min_distance=cfg.min_distance,
                  threshold=cfg.quality_threshold)
        kw.update(decode_kw)
        return jax.vmap(lambda m: decode_grasp_maps({key: m[..., i] for i, key in enumerate(MAP_KEYS)},
                                                    **kw))(maps)

    def predict_poses(self, params, observation, camera: Camera, approach: str = "top_down",
                      depth_offset: float = 0.0, depth_window: int = 1, k: int | None = None,
                      **decode_kw) -> GripperPoses:
        """Top-k grasps per image lifted to world gripper poses [B, k] with one shared ``camera``
        (see :func:`~jaxrobot.vision.grasp_decode.lift_grasps` for the approach and offset)."""
        grasps = self.predict_grasps(params, observation, k, **decode_kw)
        depth = observation["observation/depth"][..., 0].astype(jnp.float32)
        return jax.vmap(lambda g, d: lift_grasps(g, d, camera, approach, depth_offset, depth_window))(
            grasps, depth)

    def export_plan(self, params: Any, meta: dict[str, Any], example_batch) -> ExportPlan:
        """Stateless vision models (grasp maps): ``maps(obs...) -> maps``."""
        specs = observation_specs(example_batch)

        def maps(*obs):
            return self.predict(params, as_obs(specs, obs), None)

        def sample(batch, rng):
            return {"maps": observation_inputs(batch, specs)}

        runtime = {"kind": "maps", "outputs": {"maps": ["quality", "cos2", "sin2", "width"]},
                   "max_width": float(self.config.max_width)}
        return ExportPlan([ExportFunction("maps", maps, specs, ("maps",))], runtime, sample)


# ---------------------------------------------------------------- candidate scorer (GQ-CNN style)


@dataclasses.dataclass(frozen=True)
class GraspCandidateConfig(Config):
    """Fields:
      crop_size: side of the grasp-aligned depth crop in pixels (GQ-CNN 2.0: 32, cut from 96 and
        downsampled 3×; here ``crop_scale`` source pixels per crop pixel does both at once).
      crop_scale: source-image pixels per crop pixel.
      conv_features: widths of the four image-stream convs (two 2×2 max-pools after the 2nd and 4th).
      conv_kernels: their kernel sizes (GQ-CNN 2.0: 9, 5, 5, 5).
      image_hidden: width of the image stream's dense layer (GQ-CNN 2.0: 1024; smaller here).
      depth_hidden: width of the gripper-depth stream (GQ-CNN 2.0: 16).
      merge_hidden: width of the merged dense layer before the logit.
      depth_scale: metres that map to 1.0 after subtracting the gripper depth from the crop.
      depth_mean, depth_std: normalisation of the gripper depth input (m).
    """

    kind: ClassVar[str] = "grasp_candidates"
    crop_size: int = 32
    crop_scale: float = 1.0
    conv_features: tuple[int, ...] = (16, 16, 16, 16)
    conv_kernels: tuple[int, ...] = (9, 5, 5, 5)
    image_hidden: int = 128
    depth_hidden: int = 16
    merge_hidden: int = 128
    depth_scale: float = 0.05
    depth_mean: float = 0.6
    depth_std: float = 0.2

    def check(self) -> None:
        require(self.crop_size >= 4 and self.crop_size % 4 == 0, "crop_size", "must be a multiple of 4")
        require(self.crop_scale > 0, "crop_scale", "must be > 0")
        require(len(self.conv_features) == 4 and all(f >= 1 for f in self.conv_features), "conv_features",
                "need 4 widths >= 1")
        require(len(self.conv_kernels) == 4 and all(k >= 1 for k in self.conv_kernels), "conv_kernels",
                "need 4 kernel sizes >= 1")
        for name in ("image_hidden", "depth_hidden", "merge_hidden"):
            require(getattr(self, name) >= 1, name, "must be >= 1")
        require(self.depth_scale > 0, "depth_scale", "must be > 0")
        require(self.depth_std > 0, "depth_std", "must be > 0")


class GQCNN(nn.Module):
    """Crop [B, S, S] + gripper depth [B] → success logit [B]."""

    cfg: GraspCandidateConfig

    @nn.compact
    def __call__(self, crops: jax.Array, grip_depth: jax.Array) -> jax.Array:
        cfg = self.cfg
        x = ((crops - grip_depth[:, None, None]) / cfg.depth_scale)[..., None]
        for i, (f, k) in enumerate(zip(cfg.conv_features, cfg.conv_kernels, strict=True)):
            x = nn.relu(nn.Conv(f, (k, k), name=f"conv{i + 1}")(x))
            if i in (1, 3):
                x = nn.max_pool(x, window_shape=(2, 2), strides=(2, 2))
        x = x.reshape(-1, x.shape[1] * x.shape[2] * x.shape[3])
        x = nn.relu(nn.Dense(cfg.image_hidden, name="image_fc")(x))
        z = ((grip_depth - cfg.depth_mean) / cfg.depth_std)[:, None]
        z = nn.relu(nn.Dense(cfg.depth_hidden, name="depth_fc")(z))
        x = nn.relu(nn.Dense(cfg.merge_hidden, name="merge_fc")(jnp.concatenate([x, z], -1)))
        # squeeze, not [:, 0]: with a symbolic batch, jax lowers static integer indexing to a gather
        # (dynamic_gather in StableHLO) that TFLite cannot convert.
        return jnp.squeeze(nn.Dense(1, name="logit")(x), axis=-1)


class GraspCandidateModel:
    """GQ-CNN-style success classifier for single grasp candidates (see the module docstring)."""

    def __init__(self, config: GraspCandidateConfig):
        self.config = config
        self.net = GQCNN(config)

    def crops(self, batch: dict[str, jax.Array]) -> jax.Array:
        """Grasp-aligned crops [B, S, S] cut from each example's depth image."""
        cfg = self.config
        depth = batch["observation/depth"][..., 0].astype(jnp.float32)
        return jax.vmap(lambda d, c, t: crop_aligned(d, c, t, cfg.crop_size, cfg.crop_scale))(
            depth, batch["grasp/center"].astype(jnp.float32), batch["grasp/angle"].astype(jnp.float32))

    def init(self, rng, batch):
        for key in ("observation/depth", "grasp/center", "grasp/angle", "grasp/depth"):
            if key not in batch:
                raise ConfigError(f"config field 'model': grasp_candidates needs batch key {key!r}")
        return self.net.init({"params": rng}, self.crops(batch), batch["grasp/depth"].astype(jnp.float32))

    def score_crops(self, params, crops: jax.Array, grip_depth: jax.Array) -> jax.Array:
        """Success logits [N] for precomputed crops [N, S, S] and gripper depths [N] (the exportable part)."""
        return self.net.apply(params, crops, grip_depth)

    def loss(self, params, batch, rng):
        del rng
        logits = self.score_crops(params, self.crops(batch), batch["grasp/depth"].astype(jnp.float32))
        labels = batch["grasp/success"].astype(jnp.float32)
        loss = jnp.mean(optax.sigmoid_binary_cross_entropy(logits, labels))
        acc = jnp.mean(((logits > 0) == (labels > 0.5)).astype(jnp.float32))
        return loss, {"bce": loss, "accuracy": acc}

    def predict(self, params, observation, rng=None):
        """Success logits [B] for one candidate per example."""
        return self.score_crops(params, self.crops(observation), observation["grasp/depth"].astype(jnp.float32))

    def score_fn(self, params, depth: jax.Array):
        """A ``(grasps [N], grip_depth [N]) -> logits [N]`` closure over one depth image [H, W], for
        :func:`~jaxrobot.vision.grasp_candidates.cross_entropy_method` and ``best_of_n``."""
        cfg = self.config

        def fn(grasps: PlanarGrasps, grip_depth: jax.Array) -> jax.Array:
            crops = jax.vmap(lambda c, t: crop_aligned(depth, c, t, cfg.crop_size, cfg.crop_scale))(
                grasps.center, grasps.angle)
            return self.score_crops(params, crops, grip_depth)

        return fn

    def export_plan(self, params: Any, meta: dict[str, Any], example_batch) -> ExportPlan:
        """GQ-CNN-style scorer: ``score(crops [B, S, S], grip_depth [B]) -> logit [B], probability [B]``.

        The grasp-aligned crop stays outside the graph (a gather the robot side does once per candidate
        set); the runtime spec records how it is cut (:func:`~jaxrobot.vision.grasp_candidates.crop_aligned`).
        Parity inputs are real crops, cut by the model's own ``crops`` from the dataset's scenes.
        """
        import jax

        c = self.config
        specs = (TensorSpec("crops", (None, c.crop_size, c.crop_size), "float32"),
                 TensorSpec("grip_depth", (None,), "float32"))

        def score(crops, grip_depth):
            logit = self.score_crops(params, crops, grip_depth)
            return logit, jax.nn.sigmoid(logit)

        def sample(batch, rng):
            crops = np.asarray(jax.jit(self.crops)({k: np.asarray(batch[k]) for k in
                                                     ("observation/depth", "grasp/center", "grasp/angle")}))
            return {"score": {"crops": crops.astype(np.float32),
                              "grip_depth": np.asarray(batch["grasp/depth"], np.float32)}}

        runtime = {"kind": "grasp_scorer", "crop_size": int(c.crop_size), "crop_scale": float(c.crop_scale),
                   "crop": "depth image [H, W] (m) sampled bilinearly (edge clamp) at centre + a*d + b*n, "
                           "d = (cos angle, sin angle) the closing axis, n = (-sin angle, cos angle), "
                           "a = (col - (S-1)/2) * crop_scale, b = (row - (S-1)/2) * crop_scale",
                   "grip_depth": "gripper depth along the optical axis (m)"}
        return ExportPlan([ExportFunction("score", score, specs, ("logit", "probability"))], runtime, sample)
