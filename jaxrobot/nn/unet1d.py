"""1-D conditional UNet over sequences ``[B, T, C]`` (Diffusion Policy's denoiser, Chi et al. 2023).

Matches LeRobot 0.4.4's ``DiffusionConditionalUnet1d`` (``policies/diffusion/modeling_diffusion.py``): a
sinusoidal embedding of the diffusion step through Linear → Mish → Linear, concatenated with a global
conditioning vector; ``down_dims`` levels of two FiLM-conditioned residual blocks (kernel ``kernel_size``,
GroupNorm, Mish), a stride-2 convolution between levels, two middle blocks, the mirrored up path with skip
connections and transposed-convolution upsampling, and a final Conv1dBlock + 1x1 convolution. Weights use
torch's default init. As in LeRobot, ``n_groups`` sets the GroupNorm groups of the residual blocks only: the
final Conv1dBlock always has :data:`FINAL_CONV_GROUPS` (LeRobot builds it with ``DiffusionConv1dBlock``'s
default ``n_groups=8``).

Convolutions are computed as matmuls (:func:`conv1d`, :class:`Upsample1d`): XLA:CPU's own 1-D convolutions
are far slower on these shapes, and the matmul form exports to plain MatMul.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxrobot.nn.initializers import torch_default

#: GroupNorm groups of the final Conv1dBlock, whatever ``n_groups`` is (LeRobot 0.4.4's ``final_conv``).
FINAL_CONV_GROUPS = 8


def mish(x: jax.Array) -> jax.Array:
    """Mish (Misra 2019): x * tanh(softplus(x))."""
    return x * jnp.tanh(jax.nn.softplus(x))


def sinusoidal_step_embedding(t: jax.Array, dim: int) -> jax.Array:
    """[B] timesteps → [B, dim]: (sin | cos) of t * exp(-log(10000) * i / (dim/2 - 1)), i < dim/2."""
    half = dim // 2
    freq = np.exp(np.arange(half) * -(math.log(10000.0) / (half - 1))).astype(np.float32)
    angle = t.astype(jnp.float32)[:, None] * freq[None]
    return jnp.concatenate([jnp.sin(angle), jnp.cos(angle)], axis=-1)


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
        kernel = self.param("kernel", torch_default, (self.kernel_size, x.shape[-1], self.features))
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
    """Two Conv1dBlocks with FiLM after the first: out = scale * h + bias from the conditioning
    (``film_scale``), or h + bias; a 1x1 convolution on the residual when the width changes."""

    features: int
    kernel_size: int = 5
    n_groups: int = 8
    film_scale: bool = True

    @nn.compact
    def __call__(self, x, cond):
        out = Conv1dBlock(self.features, self.kernel_size, self.n_groups, name="conv1")(x)
        n = 2 * self.features if self.film_scale else self.features
        film = nn.Dense(n, kernel_init=torch_default, name="cond_encoder")(mish(cond))[:, None, :]
        if self.film_scale:
            out = film[..., : self.features] * out + film[..., self.features :]
        else:
            out = out + film
        out = Conv1dBlock(self.features, self.kernel_size, self.n_groups, name="conv2")(out)
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
        k = self.param("kernel", torch_default, (4, x.shape[-1], self.features)).astype(x.dtype)
        bias = self.param("bias", nn.initializers.zeros, (self.features,)).astype(x.dtype)
        zero = jnp.zeros_like(k[0])
        even = jnp.stack([k[3], k[1], zero])  # taps at offsets -1, 0, +1 for the even outputs
        odd = jnp.stack([zero, k[2], k[0]])
        kernel = jnp.stack([even, odd], axis=-2).reshape(3, x.shape[-1], 2 * self.features)
        y = conv1d(x, kernel, padding=1)
        b, t, _ = x.shape
        return y.reshape(b, 2 * t, self.features) + bias


class ConditionalUnet1d(nn.Module):
    """Sequence [B, T, C], diffusion steps [B], global conditioning [B, G] → [B, T, ``out_dim``].

    ``T`` must be divisible by 2 ** (len(down_dims) - 1), every ``down_dims`` entry by ``n_groups`` (the
    residual blocks' GroupNorm groups) and ``down_dims[0]`` by :data:`FINAL_CONV_GROUPS` (the final block's).
    """

    out_dim: int
    down_dims: tuple[int, ...] = (512, 1024, 2048)
    kernel_size: int = 5
    n_groups: int = 8
    step_embed_dim: int = 128
    film_scale: bool = True

    @nn.compact
    def __call__(self, x, timesteps, global_cond):
        e = self.step_embed_dim
        temb = sinusoidal_step_embedding(timesteps, e).astype(x.dtype)
        temb = nn.Dense(4 * e, kernel_init=torch_default, name="diffusion_step_encoder_1")(temb)
        temb = nn.Dense(e, kernel_init=torch_default, name="diffusion_step_encoder_3")(mish(temb))
        cond = jnp.concatenate([temb, global_cond.astype(x.dtype)], axis=-1)

        def block(features, name):
            return ConditionalResidualBlock1d(features, self.kernel_size, self.n_groups, self.film_scale, name=name)

        skips = []
        n_levels = len(self.down_dims)
        for i, dim in enumerate(self.down_dims):
            x = block(dim, f"down_{i}_0")(x, cond)
            x = block(dim, f"down_{i}_1")(x, cond)
            skips.append(x)
            if i < n_levels - 1:
                x = Conv1d(dim, 3, stride=2, padding=1, name=f"down_{i}_2")(x)
        x = block(self.down_dims[-1], "mid_0")(x, cond)
        x = block(self.down_dims[-1], "mid_1")(x, cond)
        # The reference pops the deepest skip first and upsamples after every up level.
        for i, dim in enumerate(reversed(self.down_dims[:-1])):
            x = jnp.concatenate([x, skips.pop()], axis=-1)
            x = block(dim, f"up_{i}_0")(x, cond)
            x = block(dim, f"up_{i}_1")(x, cond)
            x = Upsample1d(dim, name=f"up_{i}_2")(x)
        x = Conv1dBlock(self.down_dims[0], self.kernel_size, FINAL_CONV_GROUPS, name="final_conv_0")(x)
        return Conv1d(self.out_dim, 1, name="final_conv_1")(x)
