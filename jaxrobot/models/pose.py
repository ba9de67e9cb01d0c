"""PoseCNN-style 6-DoF pose of known objects from RGB-D (Xiang et al., "PoseCNN", RSS 2018), CPU-sized.

Three outputs, as in PoseCNN:

1. semantic segmentation: per-pixel logits over background + ``num_objects`` known objects;
2. translation: per pixel, the unit vector (du, dv) in the image towards the object centre's projection and
   the centre's depth. Centres come from Hough voting over the object's pixels
   (:func:`jaxrobot.vision.pose_voting.hough_vote`); the depth is the mean over those pixels. With depth as
   input, each pixel predicts the *offset* from its measured depth to the centre depth (PoseCNN, RGB only,
   regresses the depth itself);
3. rotation: features cropped around the centre (PoseCNN's RoI pooling, here a bilinear ``crop`` x ``crop``
   window of the stride-2 decoder features) regressed to a 6-D rotation per object class (Zhou et al.,
   CVPR 2019, continuous; PoseCNN regresses quaternions). Trained with PoseCNN's point-matching loss
   (PLoss: mean distance between model points rotated by the estimate and by the truth) and, for
   symmetric objects, ShapeMatch-Loss (mean distance to the closest truly-rotated point).

The backbone is a small U-Net (encoder of stride-2 convs, nearest-neighbour upsampling with skips) instead
of PoseCNN's VGG16; it trains on the 2-core CPU in minutes.

Batch layout (kind ``pose``; B examples of one object each, H = W divisible by 8):
  ``observation/rgb``    uint8   [B, H, W, 3]
  ``observation/depth``  float32 [B, H, W, 1]  z-depth (m), 0 where invalid.
  ``pose/segmentation``  uint8   [B, H, W]     0 background, 1 + object id.
  ``pose/center``        float32 [B, 2]        projection (u, v) of the object origin (pixel centres).
  ``pose/rotation``      float32 [B, 3, 3]     camera-from-object rotation (OpenCV camera frame).
  ``pose/translation``   float32 [B, 3]        object origin in the camera frame (m).
  ``pose/object``        int32   [B]           object id.
  ``pose/model_points``  float32 [B, P, 3]     the object's model points (object frame, m) for the loss.
  ``pose/symmetric``     bool    [B]           ShapeMatch-Loss instead of PLoss.
``predict`` returns a dict: ``object`` [B], ``score`` [B] (object pixels found), ``center`` [B, 2],
``center_depth`` [B], ``rotation`` [B, 3, 3], ``segmentation`` [B, H, W] and, when the observation has
``observation/intrinsics`` [B, 3, 3], ``translation`` [B, 3] (the centre back-projected).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxrobot.config import Config, ConfigError, require
from jaxrobot.nn.upsample import upsample2x_nearest
from jaxrobot.vision import pose_metrics as pm
from jaxrobot.vision.pose_voting import direction_field, hough_vote, rotation_from_6d


@dataclasses.dataclass(frozen=True)
class PoseConfig(Config):
    """Fields:
      num_objects: known objects (segmentation classes besides background, one rotation head each); must
        equal ``jaxrobot.skills.pose.objects.NUM_OBJECTS`` (checked when the model is built).
      features: encoder widths at strides 1, 2, 4, 8 (the decoder mirrors them).
      rot_features: widths of the two stride-2 convs of the rotation head; rot_hidden: its MLP width.
      crop: side of the feature window cut around the centre for rotation (stride-2 cells).
      depth_mean, depth_scale: input depth normalisation (m); offset_scale: unit of the depth offset (m).
      center_jitter: uniform jitter (px) of the true centre where the rotation crop is cut in training.
      seg_weight, vector_weight, depth_weight, rotation_weight: loss weights.
      vote_stride, vote_cos: Hough candidate grid spacing (px) and inlier angle cosine.
      min_pixels: fewest segmented pixels for an object to count as found.
    """

    kind: ClassVar[str] = "pose"
    num_objects: int = 4
    features: tuple[int, ...] = (16, 32, 64, 96)
    rot_features: tuple[int, ...] = (64, 64)
    rot_hidden: int = 256
    crop: int = 16
    depth_mean: float = 0.45
    depth_scale: float = 0.05
    offset_scale: float = 0.02
    center_jitter: float = 1.5
    seg_weight: float = 1.0
    vector_weight: float = 1.0
    depth_weight: float = 1.0
    rotation_weight: float = 1.0
    vote_stride: int = 2
    vote_cos: float = 0.97
    min_pixels: int = 4

    def check(self) -> None:
        require(self.num_objects >= 1, "num_objects", f"must be >= 1, got {self.num_objects}")
        require(len(self.features) == 4 and all(f >= 1 for f in self.features), "features",
                "need 4 widths >= 1 (strides 1, 2, 4, 8)")
        require(len(self.rot_features) == 2 and all(f >= 1 for f in self.rot_features), "rot_features",
                "need 2 widths >= 1")
        require(self.crop >= 4 and self.crop % 4 == 0, "crop", f"must be a multiple of 4 >= 4, got {self.crop}")
        require(self.depth_scale > 0 and self.offset_scale > 0, "depth_scale", "scales must be > 0")
        require(self.center_jitter >= 0, "center_jitter", "must be >= 0")
        require(self.vote_stride >= 1, "vote_stride", f"must be >= 1, got {self.vote_stride}")
        require(0 < self.vote_cos < 1, "vote_cos", f"must be in (0, 1), got {self.vote_cos}")


def crop_features(feat: jax.Array, center: jax.Array, size: int) -> jax.Array:
    """Bilinear ``size`` x ``size`` window [size, size, C] of ``feat`` [H, W, C] centred at ``center``
    (u, v) in feature-cell coordinates (zero outside the map): PoseCNN's RoI pooling for one object."""
    h, w = feat.shape[:2]
    g = jnp.arange(size, dtype=jnp.float32) - (size - 1) / 2.0
    vv = jnp.broadcast_to(center[1] + g[:, None], (size, size))
    uu = jnp.broadcast_to(center[0] + g[None, :], (size, size))
    v0, u0 = jnp.floor(vv), jnp.floor(uu)
    wv, wu = (vv - v0)[..., None], (uu - u0)[..., None]

    def at(v, u):
        inside = (v >= 0) & (v < h) & (u >= 0) & (u < w)
        vi = jnp.clip(v, 0, h - 1).astype(jnp.int32)
        ui = jnp.clip(u, 0, w - 1).astype(jnp.int32)
        return feat[vi, ui] * inside[..., None]

    return ((1 - wv) * (1 - wu) * at(v0, u0) + (1 - wv) * wu * at(v0, u0 + 1)
            + wv * (1 - wu) * at(v0 + 1, u0) + wv * wu * at(v0 + 1, u0 + 1))


class PoseNet(nn.Module):
    """RGB-D [B, H, W, 4] -> dense maps and the rotation head (see the module docstring)."""

    cfg: PoseConfig

    def setup(self):
        cfg = self.cfg
        f = cfg.features
        conv = lambda c, s=1: nn.Conv(c, (3, 3), strides=(s, s))  # noqa: E731
        self.enc = [conv(f[0]), conv(f[1], 2), conv(f[2], 2), conv(f[3], 2)]
        self.enc_b = [conv(c) for c in f]
        self.dec = [conv(f[2]), conv(f[1]), conv(f[0])]
        self.seg_head = nn.Conv(cfg.num_objects + 1, (1, 1))
        self.vec_head = nn.Conv(3, (1, 1))  # du, dv, depth offset
        self.rot_convs = [conv(c, 2) for c in cfg.rot_features]
        self.rot_mlp = nn.Dense(cfg.rot_hidden)
        self.rot_out = nn.Dense(6 * cfg.num_objects,
                                bias_init=lambda k, s, d=jnp.float32: jnp.tile(
                                    jnp.array([1.0, 0, 0, 0, 1.0, 0], d), cfg.num_objects))

    def inputs(self, rgb: jax.Array, depth: jax.Array) -> jax.Array:
        cfg = self.cfg
        valid = (depth > 0).astype(jnp.float32)
        d = (depth - cfg.depth_mean) / cfg.depth_scale * valid
        return jnp.concatenate([rgb.astype(jnp.float32) / 255.0 - 0.5, d, valid], -1)

    def dense(self, rgb: jax.Array, depth: jax.Array):
        """(segmentation logits [B, H, W, K+1], vertex maps [B, H, W, 3], stride-2 features [B, H/2, W/2, C])."""
        x = self.inputs(rgb, depth)
        skips = []
        for a, b in zip(self.enc, self.enc_b, strict=True):
            x = nn.relu(b(nn.relu(a(x))))
            skips.append(x)
        x = skips[3]
        feats = None
        for i, layer in enumerate(self.dec):
            x = nn.relu(layer(jnp.concatenate([upsample2x_nearest(x), skips[2 - i]], -1)))
            if i == 1:
                feats = x
        return self.seg_head(x), self.vec_head(x), feats

    def rotation(self, feats: jax.Array, center_px: jax.Array, obj: jax.Array) -> jax.Array:
        """6-D rotation [B, 6] for object ``obj`` [B] from features cropped at ``center_px`` [B, 2] (pixels)."""
        cells = (center_px - 0.5) / 2.0
        x = jax.vmap(crop_features, in_axes=(0, 0, None))(feats, cells, self.cfg.crop)
        for layer in self.rot_convs:
            x = nn.relu(layer(x))
        x = x.reshape(x.shape[0], -1)
        x = nn.relu(self.rot_mlp(x))
        out = self.rot_out(x).reshape(x.shape[0], self.cfg.num_objects, 6)
        return jnp.take_along_axis(out, obj[:, None, None], axis=1)[:, 0]

    def __call__(self, rgb, depth, center_px, obj):
        seg, vec, feats = self.dense(rgb, depth)
        return seg, vec, self.rotation(feats, center_px, obj)


def rotation_loss(rot_pred: jax.Array, rot_gt: jax.Array, points: jax.Array, symmetric: jax.Array) -> jax.Array:
    """Per-example PLoss / ShapeMatch-Loss [B] (metres): mean distance between the model points [B, P, 3]
    rotated by the estimate and (the same, or for symmetric objects the closest) truly rotated points.

    PLoss is ADD without translation (:func:`jaxrobot.vision.pose_metrics.add`); ShapeMatch-Loss averages
    over the *estimated* points (PoseCNN's direction; the ADD-S metric averages over the true ones).
    """
    zero = jnp.zeros(rot_pred.shape[:-2] + (3,), rot_pred.dtype)
    same = pm.add(points, rot_pred, zero, rot_gt, zero)
    est, gt = pm.transform(points, rot_pred, zero), pm.transform(points, rot_gt, zero)
    closest = pm.closest_point_distance(est, gt, eps=1e-12).mean(-1)
    return jnp.where(symmetric, closest, same)


class PoseModel:
    """PoseCNN-style pose estimation behind the model protocol (batch layout in the module docstring)."""

    def __init__(self, config: PoseConfig):
        self.config = config
        self.net = PoseNet(config)

    def check_data(self, spec: dict) -> None:
        """The trainer's cross-check against the data source's spec: one segmentation class per known object."""
        names = spec.get("objects")
        if names is not None and len(names) != self.config.num_objects:
            raise ConfigError(f"config field 'model.num_objects': {self.config.num_objects} does not match the "
                              f"{len(names)} known objects {list(names)} of the pose scenes")

    def _check(self, batch):
        rgb, depth = batch.get("observation/rgb"), batch.get("observation/depth")
        if rgb is None or depth is None or rgb.ndim != 4 or depth.shape != rgb.shape[:3] + (1,):
            raise ConfigError("config field 'model': pose needs 'observation/rgb' [B, H, W, 3] and "
                              "'observation/depth' [B, H, W, 1], got "
                              f"{None if rgb is None else rgb.shape}, {None if depth is None else depth.shape}")
        if rgb.shape[1] % 8 or rgb.shape[2] % 8:
            raise ConfigError(f"config field 'model': image size {rgb.shape[1:3]} must be divisible by 8")

    def init(self, rng, batch):
        self._check(batch)
        b = batch["observation/rgb"].shape[0]
        return self.net.init({"params": rng}, batch["observation/rgb"], batch["observation/depth"],
                             jnp.zeros((b, 2)), jnp.zeros((b,), jnp.int32))

    def loss(self, params, batch, rng):
        cfg = self.config
        rgb, depth = batch["observation/rgb"], batch["observation/depth"]
        seg_gt = batch["pose/segmentation"].astype(jnp.int32)
        obj = batch["pose/object"].astype(jnp.int32)
        center = batch["pose/center"].astype(jnp.float32)
        jitter = jax.random.uniform(rng, center.shape, minval=-cfg.center_jitter, maxval=cfg.center_jitter)
        seg, vec, r6 = self.net.apply(params, rgb, depth, center + jitter, obj)

        seg_loss = optax.softmax_cross_entropy_with_integer_labels(seg, seg_gt).mean()
        mask = (seg_gt > 0).astype(jnp.float32)
        n = jnp.maximum(mask.sum(), 1.0)
        target_dir = jax.vmap(direction_field)(seg_gt > 0, center)
        vec_loss = jnp.sum(optax.huber_loss(vec[..., :2], target_dir, delta=1.0).sum(-1) * mask) / n
        tz = batch["pose/translation"][:, 2].astype(jnp.float32)
        target_off = (tz[:, None, None] - depth[..., 0]) / cfg.offset_scale
        depth_loss = jnp.sum(optax.huber_loss(vec[..., 2], target_off, delta=1.0) * mask) / n
        rot = rotation_from_6d(r6)
        rot_err = rotation_loss(rot, batch["pose/rotation"].astype(jnp.float32),
                                batch["pose/model_points"].astype(jnp.float32), batch["pose/symmetric"])
        rot_loss = rot_err.mean() / 0.01  # in cm
        total = (cfg.seg_weight * seg_loss + cfg.vector_weight * vec_loss + cfg.depth_weight * depth_loss
                 + cfg.rotation_weight * rot_loss)
        pred = jnp.argmax(seg, -1)
        fg_pred, fg_gt = pred > 0, seg_gt > 0
        iou = jnp.sum(fg_pred & fg_gt) / jnp.maximum(jnp.sum(fg_pred | fg_gt), 1)
        return total, {"loss": total, "loss_segmentation": seg_loss, "loss_vertex": vec_loss,
                       "loss_depth": depth_loss, "loss_rotation": rot_loss, "rotation_error_cm": rot_err.mean() * 100,
                       "foreground_iou": iou,
                       "depth_error_cm": jnp.sum(jnp.abs(vec[..., 2] - target_off) * mask) / n * cfg.offset_scale * 100}

    def predict(self, params, observation, rng=None):
        """Pose estimates (see the module docstring); jit-able, fixed shapes."""
        cfg = self.config
        self._check(observation)
        rgb, depth = observation["observation/rgb"], observation["observation/depth"]
        seg, vec, feats = self.net.apply(params, rgb, depth, method=PoseNet.dense)
        labels = jnp.argmax(seg, -1)
        counts = jnp.sum(jax.nn.one_hot(labels, cfg.num_objects + 1)[..., 1:], axis=(1, 2))  # [B, K]
        obj = jnp.argmax(counts, -1).astype(jnp.int32)
        mask = labels == (obj + 1)[:, None, None]
        vote = jax.vmap(lambda d, m: hough_vote(d, m, stride=cfg.vote_stride, cos_threshold=cfg.vote_cos))
        center, _, _ = vote(vec[..., :2], mask)
        m = mask.astype(jnp.float32)
        zc = depth[..., 0] + vec[..., 2] * cfg.offset_scale
        center_depth = jnp.sum(zc * m, (1, 2)) / jnp.maximum(m.sum((1, 2)), 1.0)
        r6 = self.net.apply(params, feats, center, obj, method=PoseNet.rotation)
        out = {"object": obj, "score": jnp.max(counts, -1), "center": center, "center_depth": center_depth,
               "rotation": rotation_from_6d(r6), "segmentation": labels,
               "found": jnp.max(counts, -1) >= cfg.min_pixels}
        k = observation.get("observation/intrinsics")
        if k is not None:
            out["translation"] = back_project(center, center_depth, k)
        return out


def back_project(center: jax.Array, depth: jax.Array, k: jax.Array) -> jax.Array:
    """Camera-frame points [..., 3] of pixels (u, v) [..., 2] at z-depth [...] with intrinsics [..., 3, 3]."""
    x = (center[..., 0] - k[..., 0, 2]) / k[..., 0, 0]
    y = (center[..., 1] - k[..., 1, 2]) / k[..., 1, 1]
    return jnp.stack([x * depth, y * depth, depth], -1)
