"""ACT: the Action Chunking Transformer (Zhao et al. 2023), matching LeRobot 0.4.4's ``policies/act``.

A CVAE: during training a BERT-style encoder reads ``[CLS, state, action chunk]`` and gives the mean and
log-variance of a 32-D latent ``z``; a transformer encoder reads ``[z, state, image tokens]`` (image tokens
are the ResNet-18 ``layer4`` map after a 1x1 projection, with 2-D sinusoidal positions; an optional
``observation/environment_state`` adds one token after the state, as LeRobot's), and a decoder
with ``chunk_size`` learned queries cross-attends to it and regresses the chunk. At inference ``z = 0``.
Loss: L1 over valid (unpadded) action elements + ``kl_weight`` x KL(q(z) || N(0, I)) (summed over latent
dims, mean over batch).

Parity with LeRobot (tested): 51,613,582 trainable parameters at the defaults with a 14-D state, a 14-D
action and one camera: 17,332,736 in the CVAE encoder layers, 11,166,912 in the backbone (frozen
BatchNorm statistics and affine terms are non-trainable and live in the ``"frozen"`` collection).
The transformer blocks and position tables are :mod:`jaxrobot.nn.transformer` (exportable attention), the
backbone :mod:`jaxrobot.nn.backbones`; this module assembles them into the CVAE and holds the loss.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, ClassVar, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrobot.config import Config, ConfigError, require
from jaxrobot.models.export_plan import ExportPlan, chunk_policy_plan
from jaxrobot.models.image_stats import CameraStats, check_image_stats, normalize_camera_image
from jaxrobot.models.policy_batch import (
    ENV_STATE_KEY,
    camera_keys,
    check_action_shape,
    masked_action_mean,
    model_inputs,
)
from jaxrobot.nn.augment import random_shift
from jaxrobot.nn.backbones import check_backbone_fields, make_backbone
from jaxrobot.nn.initializers import torch_default
from jaxrobot.nn.norms import stop_gradient_frozen
from jaxrobot.nn.rng import fast_key
from jaxrobot.nn.spatial_softmax import SpatialSoftmax
from jaxrobot.nn.transformer import Decoder, Encoder, TransformerSpec, sinusoid_1d, sinusoid_2d


@dataclasses.dataclass(frozen=True)
class ACTConfig(Config):
    """ACT hyper-parameters; the defaults are LeRobot 0.4.4's ``ACTConfig`` (= the original ACT's).

    Fields:
      action_dim: size of one action (must match the data's ``action``); 14 for bimanual ALOHA.
      chunk_size: actions predicted per call (= the data's ``horizon``); 100.
      n_action_steps: actions executed from each chunk before re-planning (runtime policy); 100.
      temporal_ensemble_coeff: m in the weights exp(-m i) (i = 0 the oldest prediction) of temporal
        ensembling at run time; None disables it (LeRobot's default; the original used 0.01 with
        n_action_steps 1).
      backbone: vision backbone, "resnet18" (reference) or "mobilenet_v3_small" (Jetson-class).
      backbone_norm: "frozen_bn" (reference; statistics and affine terms frozen) or "group_norm".
      backbone_width: ResNet base width (64 = the real ResNet-18; smaller for CPU-sized variants).
      backbone_output_stride: 32 (reference), or 16 / 8 to keep a finer feature map on small images
        (ResNet-18 only; same weights, fewer strides: see ``backbones.py``).
      image_norm: image preprocessing: "imagenet" mean/std (what torchvision weights expect), "unit" [0, 1], or
        "stats": each camera's own mean/std from ``image_stats`` (a LeRobot checkpoint's dataset statistics).
      image_stats: with image_norm="stats", one (camera, mean[3], std[3]) per camera, on pixels in [0, 1]
        (see :mod:`jaxrobot.models.image_stats`); empty otherwise.
      pretrained_backbone: path to a torchvision ResNet-18 ``state_dict`` (.npz/.safetensors) loaded into the
        backbone at init (see ``resnet_convert.py``); "" keeps the random init.
      dim_model: transformer width; 512.
      n_heads: attention heads; 8.
      dim_feedforward: FFN hidden width; 3200.
      feedforward_activation: "relu" (reference) or "gelu" (exact, erf-based: torch's ``F.gelu``, as LeRobot).
      pre_norm: pre-LayerNorm blocks; False (post-norm, as the reference).
      n_encoder_layers: transformer encoder layers; 4.
      n_decoder_layers: decoder layers; 1. The original code built 7 but used only the first one's output
        (LeRobot hence defaults to 1); > 1 here gives the fixed variant where every layer is used.
      use_vae: train with the CVAE objective; False trains a plain transformer with z = 0.
      latent_dim: size of z; 32.
      n_vae_encoder_layers: layers of the CVAE encoder; 4.
      dropout: dropout in attention weights, residual branches and FFNs; 0.1.
      kl_weight: weight of the KL term; 10.
      random_shift: DrQ-style random shift of every training image by up to this many pixels (edge-padded,
        same size; :func:`jaxrobot.nn.augment.random_shift`); 0 (reference) is off. Evaluation is unshifted.
      camera_embedding: add a learned vector per camera to its image tokens' positions. The reference gives
        every camera the same 2-D sine positions, so a shared backbone's token says where in *an* image it is
        but not in which camera (a cube seen by the scene camera and one seen by the wrist camera look alike);
        False (reference, LeRobot parity).
      keypoint_tokens: K > 0 adds one encoder token per camera holding K spatial soft-argmax keypoints of its
        backbone map (Levine, Finn et al. 2016; what Diffusion Policy reads): continuous image coordinates,
        where the grid tokens quantise a small object's place to one cell of the map; 0 (reference) is off.
    """

    kind: ClassVar[str] = "act"
    action_dim: int = 14
    chunk_size: int = 100
    n_action_steps: int = 100
    temporal_ensemble_coeff: float | None = None
    backbone: Literal["resnet18", "mobilenet_v3_small"] = "resnet18"
    backbone_norm: Literal["frozen_bn", "group_norm"] = "frozen_bn"
    backbone_width: int = 64
    backbone_output_stride: int = 32
    image_norm: Literal["imagenet", "unit", "stats"] = "imagenet"
    image_stats: tuple[CameraStats, ...] = ()
    pretrained_backbone: str = ""
    dim_model: int = 512
    n_heads: int = 8
    dim_feedforward: int = 3200
    feedforward_activation: Literal["relu", "gelu"] = "relu"
    pre_norm: bool = False
    n_encoder_layers: int = 4
    n_decoder_layers: int = 1
    use_vae: bool = True
    latent_dim: int = 32
    n_vae_encoder_layers: int = 4
    dropout: float = 0.1
    kl_weight: float = 10.0
    random_shift: int = 0
    camera_embedding: bool = False
    keypoint_tokens: int = 0

    def check(self) -> None:
        for name in (
            "action_dim",
            "chunk_size",
            "n_action_steps",
            "dim_model",
            "n_heads",
            "dim_feedforward",
            "n_encoder_layers",
            "n_decoder_layers",
            "latent_dim",
        ):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        require(
            self.n_action_steps <= self.chunk_size,
            "n_action_steps",
            f"{self.n_action_steps} exceeds chunk_size {self.chunk_size}",
        )
        check_backbone_fields(self)
        check_image_stats(self.image_norm, self.image_stats)
        require(
            self.dim_model % self.n_heads == 0,
            "n_heads",
            f"dim_model {self.dim_model} is not divisible by {self.n_heads} heads",
        )
        require(self.dim_model % 4 == 0, "dim_model", "must be divisible by 4 (2-D sinusoidal positions)")
        require(
            not self.use_vae or self.n_vae_encoder_layers >= 1,
            "n_vae_encoder_layers",
            "must be >= 1 when use_vae",
        )
        require(0 <= self.dropout < 1, "dropout", "must be in [0, 1)")
        require(self.kl_weight >= 0, "kl_weight", "must be >= 0")
        require(self.keypoint_tokens >= 0, "keypoint_tokens", f"must be >= 0, got {self.keypoint_tokens}")
        require(self.random_shift >= 0, "random_shift", f"must be >= 0 pixels, got {self.random_shift}")
        require(
            self.temporal_ensemble_coeff is None or self.n_action_steps == 1,
            "temporal_ensemble_coeff",
            "temporal ensembling queries the policy every step: set n_action_steps=1",
        )
        require(
            not self.pretrained_backbone or (self.backbone == "resnet18" and self.backbone_width == 64),
            "pretrained_backbone",
            "torchvision weights need backbone='resnet18' with backbone_width=64",
        )

    def transformer_spec(self) -> TransformerSpec:
        """The layer shape shared by the CVAE encoder, the encoder and the decoder."""
        return TransformerSpec(
            dim=self.dim_model,
            heads=self.n_heads,
            dim_feedforward=self.dim_feedforward,
            dropout=self.dropout,
            activation=self.feedforward_activation,
            pre_norm=self.pre_norm,
        )


# ------------------------------------------------------------------ the network


class ACTNet(nn.Module):
    """Returns (actions [B, chunk, A], mu [B, L] or None, log_sigma_x2 [B, L] or None).

    ``skip_repeated_work``: the CVAE encoder's last layer computes only the CLS token, the one output read (the
    reference computes all 102 and drops 101, ~13% of a default training step), and the decoder's first
    self-attention, whose input (zeros plus the learned query positions) is the same for every example, is
    projected and scored once per batch. The result is the same, dropout included (tests/models/test_act.py
    compares loss and gradients); False is the straightforward form.
    """

    cfg: ACTConfig
    skip_repeated_work: bool = True

    @nn.compact
    def __call__(self, obs: dict[str, jax.Array], actions=None, action_mask=None, *, train: bool):
        c = self.cfg
        spec = c.transformer_spec()
        state = obs["observation/state"][:, -1]  # ACT conditions on the current frame only
        b = state.shape[0]
        d = c.dim_model

        # CVAE encoder (training only): [CLS, state, actions] → mu, log sigma^2.
        mu = log_sigma_x2 = None
        if c.use_vae and train:
            cls = self.param("vae_encoder_cls_embed", nn.initializers.normal(1.0), (1, d))
            dense = functools.partial(nn.Dense, d, kernel_init=torch_default)
            state_token = dense(name="vae_encoder_robot_state_input_proj")(state)
            action_tokens = dense(name="vae_encoder_action_input_proj")(actions)
            tokens = jnp.concatenate(
                [jnp.broadcast_to(cls[None], (b, 1, d)), state_token[:, None], action_tokens], axis=1
            )
            pos = jnp.asarray(sinusoid_1d(tokens.shape[1], d))[None]
            mask = jnp.concatenate([jnp.ones((b, 2), bool), action_mask.astype(bool)], axis=1)
            encoded = Encoder(spec, c.n_vae_encoder_layers, name="vae_encoder")(
                tokens, pos, mask, train=train, out_rows=1 if self.skip_repeated_work else None)
            cls_out = encoded[:, 0]
            params = nn.Dense(
                2 * c.latent_dim, kernel_init=torch_default, name="vae_encoder_latent_output_proj"
            )(cls_out)
            mu, log_sigma_x2 = params[:, : c.latent_dim], params[:, c.latent_dim :]
            eps = jax.random.normal(self.make_rng("latent"), mu.shape, mu.dtype)
            z = mu + jnp.exp(log_sigma_x2 / 2) * eps
        else:
            z = jnp.zeros((b, c.latent_dim), state.dtype)

        # Transformer encoder input: [latent, state, (environment state), image tokens...] with their positions.
        env = obs.get(ENV_STATE_KEY)
        n_1d = 2 if env is None else 3
        pos_1d = self.param("encoder_1d_feature_pos_embed", nn.initializers.normal(1.0), (n_1d, d))
        tokens = [
            nn.Dense(d, kernel_init=torch_default, name="encoder_latent_input_proj")(z)[:, None],
            nn.Dense(d, kernel_init=torch_default, name="encoder_robot_state_input_proj")(state)[:, None],
        ]
        if env is not None:
            env = env[:, -1].astype(state.dtype)
            tokens.append(nn.Dense(d, kernel_init=torch_default, name="encoder_env_state_input_proj")(env)[:, None])
        positions = [jnp.broadcast_to(pos_1d[None].astype(state.dtype), (b, n_1d, d))]
        cams = camera_keys(obs)
        if cams:
            backbone = make_backbone(
                c.backbone, c.backbone_norm, c.backbone_width, output_stride=c.backbone_output_stride,
                module_name="backbone"
            )
            # the reference's 1x1 conv
            proj = nn.Dense(d, kernel_init=torch_default, name="encoder_img_feat_input_proj")
            cam_embed = (self.param("encoder_camera_embed", nn.initializers.normal(1.0), (len(cams), d))
                         if c.camera_embedding else None)
            if c.keypoint_tokens:
                keypoints = SpatialSoftmax(c.keypoint_tokens, name="keypoints")
                keypoint_proj = nn.Dense(d, kernel_init=torch_default, name="encoder_keypoint_input_proj")
            for i, key in enumerate(cams):  # one shared backbone for all cameras, as the reference
                img = normalize_camera_image(obs[key][:, -1], key, c.image_norm, c.image_stats).astype(state.dtype)
                feat_map = backbone(img)
                if c.keypoint_tokens:  # one token: the camera's K (x, y) in [-1, 1], flattened
                    kp_pos = self.param(f"encoder_keypoint_pos_embed_{i}", nn.initializers.normal(1.0), (1, d))
                    tokens.append(keypoint_proj(keypoints(feat_map).reshape(b, 1, -1)))
                    positions.append(jnp.broadcast_to(kp_pos[None].astype(state.dtype), (b, 1, d)))
                feat = proj(feat_map)  # [B, h, w, d]
                _, h, w, _ = feat.shape
                tokens.append(feat.reshape(b, h * w, d))
                pe = jnp.asarray(sinusoid_2d(h, w, d).reshape(h * w, d), state.dtype)
                if cam_embed is not None:
                    pe = pe + cam_embed[i].astype(state.dtype)
                positions.append(jnp.broadcast_to(pe[None], (b, h * w, d)))
        tokens = jnp.concatenate(tokens, axis=1)
        positions = jnp.concatenate(positions, axis=1)
        memory = Encoder(spec, c.n_encoder_layers, name="encoder")(tokens, positions, train=train)

        query_pos = self.param("decoder_pos_embed", nn.initializers.normal(1.0), (c.chunk_size, d))
        queries = 1 if self.skip_repeated_work else b  # the decoder's input is the same for every example
        query_pos = jnp.broadcast_to(query_pos[None].astype(state.dtype), (queries, c.chunk_size, d))
        x = jnp.zeros((queries, c.chunk_size, d), state.dtype)
        x = Decoder(spec, c.n_decoder_layers, name="decoder")(x, memory, query_pos, positions, train=train)
        out = nn.Dense(c.action_dim, kernel_init=torch_default, name="action_head")(x)
        return out, mu, log_sigma_x2


def kl_to_standard_normal(mu: jax.Array, log_sigma_x2: jax.Array) -> jax.Array:
    """KL(N(mu, sigma^2) || N(0, I)) summed over latent dims, mean over the batch."""
    kl = -0.5 * (1.0 + log_sigma_x2 - jnp.square(mu) - jnp.exp(log_sigma_x2))
    return kl.sum(-1).mean()


class ACTModel:
    """ACT behind the trainer's model protocol (``models/base.py``).

    ``init`` returns ``{"params": ..., "frozen": ...}`` when the backbone uses frozen BatchNorm; the
    ``"frozen"`` leaves get exactly zero gradients (``stop_gradient_frozen`` in ``loss``) and are 1-D, so
    AdamW (masked weight decay) leaves them unchanged.
    """

    def __init__(self, config: ACTConfig):
        self.config = config
        self.net = ACTNet(config)

    def init(self, rng: jax.Array, batch: dict[str, jax.Array]):
        c = self.config
        check_action_shape(batch, "chunk_size", c.chunk_size, c.action_dim)
        if not camera_keys(batch) and c.pretrained_backbone:
            raise ConfigError("config field 'model.pretrained_backbone': the data has no camera")
        p_rng, d_rng, z_rng = jax.random.split(rng, 3)
        rngs = {"params": fast_key(p_rng), "dropout": fast_key(d_rng), "latent": z_rng}
        variables = self.net.init(
            rngs, model_inputs(batch), batch["action"], batch["action_pad_mask"], train=True
        )
        if c.pretrained_backbone:
            from jaxrobot.nn.resnet_convert import load_into

            variables = load_into(variables, c.pretrained_backbone, c.backbone_norm, prefix=("backbone",))
        return variables

    def loss(self, params, batch, rng):
        c = self.config
        d_rng, z_rng, s_rng = jax.random.split(rng, 3)
        inputs = model_inputs(batch)
        for i, key in enumerate(camera_keys(inputs)):
            inputs[key] = random_shift(inputs[key], c.random_shift, jax.random.fold_in(s_rng, i))
        pred, mu, log_sigma_x2 = self.net.apply(
            stop_gradient_frozen(params),
            inputs,
            batch["action"],
            batch["action_pad_mask"],
            train=True,
            rngs={"dropout": fast_key(d_rng), "latent": z_rng},
        )
        l1 = masked_action_mean(jnp.abs(pred - batch["action"].astype(pred.dtype)), batch["action_pad_mask"])
        metrics = {"l1": l1}
        loss = l1
        if mu is not None:
            kld = kl_to_standard_normal(mu, log_sigma_x2)
            metrics["kld"] = kld
            loss = l1 + c.kl_weight * kld
        return loss, metrics

    def predict(self, params, observation, rng=None):
        """Normalised action chunk [B, chunk_size, A] with z = 0 (deterministic; ``rng`` is unused)."""
        pred, _, _ = self.net.apply(params, model_inputs(observation), train=False)
        return pred

    def export_plan(self, params: Any, meta: dict[str, Any], example_batch) -> ExportPlan:
        """One ``policy(observation arrays) -> normalised chunk`` graph (see :func:`chunk_policy_plan`)."""
        return chunk_policy_plan(self, params, meta, example_batch)


def small_act_config(**overrides) -> ACTConfig:
    """A CPU-sized ACT (~0.4 M params with a camera): same topology, narrow widths, a width-8 ResNet-18.

    For tests and the ``experiments/act_synthetic.py:small`` run; ``overrides`` replace any field.
    """
    fields = dict(
        action_dim=4,
        chunk_size=8,
        n_action_steps=8,
        backbone_width=8,
        dim_model=64,
        n_heads=4,
        dim_feedforward=128,
        n_encoder_layers=2,
        n_decoder_layers=1,
        n_vae_encoder_layers=2,
        latent_dim=8,
    )
    fields.update(overrides)
    return ACTConfig(**fields)
