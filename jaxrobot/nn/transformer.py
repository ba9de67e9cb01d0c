"""Transformer blocks with PyTorch semantics (DETR / ACT style) and sinusoidal position tables.

The layers follow ``torch.nn.TransformerEncoderLayer`` / ``TransformerDecoderLayer`` as DETR and ACT use them
(LeRobot 0.4.4 ``policies/act/modeling_act.py``): positions are added to queries and keys, not to values;
post-norm by default, pre-norm on request; dropout on attention weights, residual branches and the FFN. Their
matrices use xavier_uniform, as the reference re-initialises them.

Attention is written out with explicit Dense projections and ellipsis-free einsums, so it exports to ONNX
graphs TensorRT 8 accepts (Flax's attention becomes an Einsum with ``...``; see shared/FACTS.md "Export").

Parameter names: ``self_attn`` / ``cross_attn`` (each ``query``, ``key``, ``value``, ``out``), ``linear1``,
``linear2``, ``norm1``.. ``norm3``, layers ``layers_<i>`` and the stack's final ``norm``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxrobot.nn.initializers import xavier_uniform

# ------------------------------------------------------------------ positions


def sinusoid_1d(num_positions: int, dim: int) -> np.ndarray:
    """[num_positions, dim] table: sin at even, cos at odd channels, angle pos / 10000^(2*(j//2)/dim)."""
    pos = np.arange(num_positions, dtype=np.float64)[:, None]
    j = np.arange(dim)
    angle = pos / np.power(10000.0, 2 * (j // 2) / dim)
    return np.where(j % 2 == 0, np.sin(angle), np.cos(angle)).astype(np.float32)


def sinusoid_2d(h: int, w: int, dim: int) -> np.ndarray:
    """[h, w, dim] DETR-style positions (LeRobot ``ACTSinusoidalPositionEmbedding2d``): y half then x half.

    Row/column indices run 1..h (1..w), scaled to (0, 2 pi]; each half interleaves sin/cos.
    """
    half = dim // 2
    eps, two_pi = 1e-6, 2 * np.pi
    y = np.arange(1, h + 1, dtype=np.float64) / (h + eps) * two_pi
    x = np.arange(1, w + 1, dtype=np.float64) / (w + eps) * two_pi
    j = np.arange(half)
    inv_freq = np.power(10000.0, 2 * (j // 2) / half)

    def enc(v):
        a = v[:, None] / inv_freq
        return np.where(j % 2 == 0, np.sin(a), np.cos(a))

    ey = np.broadcast_to(enc(y)[:, None, :], (h, w, half))
    ex = np.broadcast_to(enc(x)[None, :, :], (h, w, half))
    return np.concatenate([ey, ex], axis=-1).astype(np.float32)


# ------------------------------------------------------------------ blocks


@dataclasses.dataclass(frozen=True)
class TransformerSpec:
    """The shape of every layer in a stack.

    Fields:
      dim: model width (d_model); must be divisible by ``heads``.
      heads: attention heads.
      dim_feedforward: FFN hidden width.
      dropout: dropout on attention weights, residual branches and the FFN hidden layer.
      activation: FFN activation, "relu" (torch's default) or "gelu": the exact, erf-based GELU, as torch's
        ``F.gelu`` (flax's ``nn.gelu`` defaults to the tanh approximation, which differs by up to ~5e-4).
      pre_norm: LayerNorm before each sub-layer (pre-norm) instead of after the residual sum (post-norm).
    """

    dim: int
    heads: int
    dim_feedforward: int
    dropout: float = 0.1
    activation: Literal["relu", "gelu"] = "relu"
    pre_norm: bool = False


def _dropout(x: jax.Array, rate: float, train: bool, full_rows: int | None = None, axis: int = 1) -> jax.Array:
    """flax ``nn.Dropout`` of ``x`` (same module names, hence the same random stream).

    ``full_rows``: ``x`` holds only the first rows (along ``axis``) of a tensor with ``full_rows`` rows in the
    straightforward computation. The mask is then drawn for the full tensor and its first rows kept, so the
    result equals those rows of the straightforward computation exactly: skipping rows nobody reads (ACT's last
    CVAE layer, where only the CLS token is read) changes the cost, not the values.
    """
    drop = nn.Dropout(rate, deterministic=not train)
    if full_rows is None or full_rows == x.shape[axis] or not train or rate == 0.0:
        return drop(x)
    shape = (*x.shape[:axis], full_rows, *x.shape[axis + 1 :])
    scaled = drop(jnp.ones(shape, x.dtype))  # 1 / keep_prob where kept, 0 where dropped
    kept = lax.slice_in_dim(scaled, 0, x.shape[axis], axis=axis) != 0
    return lax.select(kept, x / (1.0 - rate), jnp.zeros_like(x))


class MultiHeadAttention(nn.Module):
    """torch ``nn.MultiheadAttention`` semantics (q/k/v/out projections with bias, dropout on weights).

    ``key_mask`` [B, K] is True where a key may be attended to. ``full_queries``: ``q`` is the first rows of
    that many queries (see ``_dropout``). ``batch``: the inputs may have batch 1 where every example would be
    equal (ACT's first decoder layer: its queries are the learned positions); the attention weights are
    broadcast to ``batch`` only where dropout makes them differ, so the values equal the batched computation's.
    """

    dim: int
    heads: int
    dropout: float

    @nn.compact
    def __call__(self, q, k, v, key_mask=None, *, train: bool, full_queries: int | None = None,
                 batch: int | None = None):
        b, lq, _ = q.shape
        lk = k.shape[1]
        hd = self.dim // self.heads
        q = nn.Dense(self.dim, kernel_init=xavier_uniform, name="query")(q).reshape(b, lq, self.heads, hd)
        k = nn.Dense(self.dim, kernel_init=xavier_uniform, name="key")(k).reshape(b, lk, self.heads, hd)
        v = nn.Dense(self.dim, kernel_init=xavier_uniform, name="value")(v).reshape(b, lk, self.heads, hd)
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(hd).astype(np.float32)
        if key_mask is not None:
            logits = jnp.where(key_mask[:, None, None, :], logits, jnp.finfo(logits.dtype).min)
        weights = jax.nn.softmax(logits, axis=-1)
        if train and self.dropout > 0 and batch is not None and weights.shape[0] != batch:
            weights = jnp.broadcast_to(weights, (batch, *weights.shape[1:]))  # masks differ per example
        weights = _dropout(weights, self.dropout, train, full_queries, axis=2)
        if v.shape[0] != weights.shape[0]:
            v = jnp.broadcast_to(v, (weights.shape[0], *v.shape[1:]))
        out = jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(weights.shape[0], lq, self.dim)
        return nn.Dense(self.dim, kernel_init=xavier_uniform, name="out")(out)


def _layer_norm(name: str) -> nn.LayerNorm:
    return nn.LayerNorm(epsilon=1e-5, name=name)


def _residual(x: jax.Array, sublayer: Callable[[jax.Array], jax.Array], norm: str, spec: TransformerSpec,
              train: bool, full_rows: int | None = None) -> jax.Array:
    """``x + dropout(sublayer(LayerNorm(x)))`` (pre-norm) or ``LayerNorm(x + dropout(sublayer(x)))`` (post-norm).

    Called inside a layer's compact ``__call__``: the sub-layer's modules are built first, then the residual
    dropout, so auto-named ``Dropout_<i>`` (hence the dropout streams) follow the sub-layers in order. When the
    sub-layer returns fewer rows than ``x`` has, the result keeps only those first rows (``full_rows``: the
    row count of the straightforward computation, for the dropout mask).
    """
    h = _layer_norm(norm)(x) if spec.pre_norm else x
    y = sublayer(h)
    x = x[:, : y.shape[1]] + _dropout(y, spec.dropout, train, full_rows)
    return x if spec.pre_norm else _layer_norm(norm)(x)


def _feedforward(x: jax.Array, spec: TransformerSpec, train: bool, full_rows: int | None = None) -> jax.Array:
    """linear1 → activation → dropout → linear2."""
    y = nn.Dense(spec.dim_feedforward, kernel_init=xavier_uniform, name="linear1")(x)
    y = nn.relu(y) if spec.activation == "relu" else nn.gelu(y, approximate=False)
    y = _dropout(y, spec.dropout, train, full_rows)
    return nn.Dense(spec.dim, kernel_init=xavier_uniform, name="linear2")(y)


class EncoderLayer(nn.Module):
    """Self-attention (positions ``pos`` added to queries and keys) then the FFN, each a residual sub-layer.

    ``out_rows``: compute only the first that many output tokens (all tokens still serve as keys and values);
    they equal the straightforward layer's first rows, dropout included.
    """

    spec: TransformerSpec

    @nn.compact
    def __call__(self, x, pos, key_mask=None, *, train: bool, out_rows: int | None = None):
        s = self.spec
        n = x.shape[1]
        rows = n if out_rows is None else out_rows
        full = None if rows == n else n

        def self_attn(h):
            qk = h + pos
            return MultiHeadAttention(s.dim, s.heads, s.dropout, name="self_attn")(
                qk[:, :rows], qk, h, key_mask, train=train, full_queries=full)

        x = _residual(x, self_attn, "norm1", s, train, full)
        return _residual(x, lambda h: _feedforward(h, s, train, full), "norm2", s, train, full)


class Encoder(nn.Module):
    """``num_layers`` encoder layers (``layers_<i>``), plus a final LayerNorm ``norm`` when pre-norm.

    ``out_rows``: only the first that many output tokens are wanted, so the last layer computes only those
    (see ``EncoderLayer``); the earlier layers compute every token, which the last one's keys and values need.
    """

    spec: TransformerSpec
    num_layers: int

    @nn.compact
    def __call__(self, x, pos, key_mask=None, *, train: bool, out_rows: int | None = None):
        for i in range(self.num_layers):
            last = i == self.num_layers - 1
            x = EncoderLayer(self.spec, name=f"layers_{i}")(
                x, pos, key_mask, train=train, out_rows=out_rows if last else None)
        if self.spec.pre_norm:
            x = _layer_norm("norm")(x)
        return x


class DecoderLayer(nn.Module):
    """Self-attention over the queries, cross-attention to ``memory``, then the FFN (residual sub-layers).

    ``x`` and ``query_pos`` may have batch 1 (the same for every example, as ACT's first layer's input): the
    self-attention's projections and scores are then computed once, and the result takes ``memory``'s batch
    where the values start to differ (dropout, or the cross-attention at the latest).
    """

    spec: TransformerSpec

    @nn.compact
    def __call__(self, x, memory, query_pos, memory_pos, *, train: bool):
        s = self.spec
        batch = memory.shape[0]

        def self_attn(h):
            qk = h + query_pos
            return MultiHeadAttention(s.dim, s.heads, s.dropout, name="self_attn")(qk, qk, h, train=train,
                                                                                   batch=batch)

        def cross_attn(h):
            return MultiHeadAttention(s.dim, s.heads, s.dropout, name="cross_attn")(
                h + query_pos, memory + memory_pos, memory, train=train
            )

        x = _residual(x, self_attn, "norm1", s, train)
        x = jnp.broadcast_to(x, (batch, *x.shape[1:]))
        x = _residual(x, cross_attn, "norm2", s, train)
        return _residual(x, lambda h: _feedforward(h, s, train), "norm3", s, train)


class Decoder(nn.Module):
    """``num_layers`` decoder layers (``layers_<i>``) and a final LayerNorm ``norm``."""

    spec: TransformerSpec
    num_layers: int

    @nn.compact
    def __call__(self, x, memory, query_pos, memory_pos, *, train: bool):
        for i in range(self.num_layers):
            x = DecoderLayer(self.spec, name=f"layers_{i}")(x, memory, query_pos, memory_pos, train=train)
        return _layer_norm("norm")(x)
