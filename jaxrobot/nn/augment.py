"""In-graph image augmentation for policy training: crops and shifts drawn per image inside the jitted step, so
augmenting costs no host time and the evaluation path (no rng) sees the images unchanged or centre-cropped."""

from __future__ import annotations

import jax
import jax.numpy as jnp


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


def random_shift(images: jax.Array, pad: int, rng: jax.Array) -> jax.Array:
    """DrQ's random shift (Kostrikov et al. 2020, "Image augmentation is all you need"): pad every image of
    ``images`` [B, T, H, W, C] by ``pad`` pixels (edges replicated) and crop it back to H x W at a random offset
    drawn per sample, shared by its T frames (a window's frames stay aligned). Same size in and out, so the
    policy reads unshifted frames of the same scale at evaluation. ``pad`` 0 returns ``images``."""
    if pad <= 0:
        return images
    b, t, h, w, c = images.shape
    padded = jnp.pad(images, ((0, 0), (0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    flat = padded.transpose(0, 2, 3, 1, 4).reshape(b, h + 2 * pad, w + 2 * pad, t * c)
    out = crop_images(flat, (h, w), rng)
    return out.reshape(b, h, w, t, c).transpose(0, 3, 1, 2, 4)
