"""Image decoding and training augmentations, deterministic per (seed, position).

- :func:`decode_image`: JPEG via simplejpeg (libjpeg-turbo, releases the GIL), scaling down in the DCT
  domain when the target size is at most half the stored size (decoding at 1/2, 1/4, 1/8 is much
  cheaper than decoding in full and resizing), then a PIL resize to the exact size. Non-JPEG data
  (PNG) goes through PIL.
- :func:`random_crop`, :func:`color_jitter`: Diffusion Policy's random crop (``RandomCrop`` 84 of 96,
  Chi et al. 2023) and brightness/contrast/saturation jitter; the random draws come from
  ``np.random.default_rng([seed, position, ...])`` so a batch is a pure function of its position.
"""

from __future__ import annotations

import io

import numpy as np

from jaxrobot.data.base import DataError


def decode_image(data: bytes, size: tuple[int, int] | None = None, *, bgr: bool = False) -> np.ndarray:
    """Decode one encoded frame to uint8 RGB ``[H, W, 3]`` (resized to ``size=(H, W)`` if given).

    ``bgr=True`` is for datasets whose JPEGs hold BGR pixels: decoding with the channels swapped
    gives RGB. Undecodable data raises :class:`DataError` (the caller adds which file, episode and frame).
    """
    data = bytes(data)
    if data[:2] == b"\xff\xd8":
        import simplejpeg

        kwargs = {}
        if size is not None:
            kwargs = {"min_height": size[0], "min_width": size[1]}
        try:
            img = simplejpeg.decode_jpeg(data, colorspace="BGR" if bgr else "RGB", **kwargs)
        except (ValueError, RuntimeError) as e:  # libjpeg-turbo's errors ("Corrupt JPEG data: ...")
            raise DataError(f"cannot decode JPEG ({len(data)} bytes): {e}") from None
    else:
        from PIL import Image

        try:
            img = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        except Exception as e:  # PIL raises many types for bad data
            raise DataError(f"cannot decode image ({len(data)} bytes): {e}") from None
        if bgr:
            img = img[..., ::-1]
    if size is not None and img.shape[:2] != tuple(size):
        img = resize(img, size)
    return np.ascontiguousarray(img)


def resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear (area when shrinking) resize of a uint8 ``[H, W, 3]`` image to ``size=(H, W)``."""
    from PIL import Image

    h, w = size
    if img.shape[:2] == (h, w):
        return img
    shrink = img.shape[0] > h and img.shape[1] > w
    method = Image.Resampling.BOX if shrink else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(img).resize((w, h), method))


def random_crop(img: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A random ``size`` window of ``img`` ``[..., H, W, C]`` (same window for every leading frame)."""
    h, w = img.shape[-3:-1]
    ch, cw = size
    if (ch, cw) == (h, w):
        return img
    if ch > h or cw > w:
        raise ValueError(f"crop {size} larger than image {(h, w)}")
    y = int(rng.integers(0, h - ch + 1))
    x = int(rng.integers(0, w - cw + 1))
    return img[..., y:y + ch, x:x + cw, :]


def center_crop(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    h, w = img.shape[-3:-1]
    y, x = (h - size[0]) // 2, (w - size[1]) // 2
    return img[..., y:y + size[0], x:x + size[1], :]


def color_jitter(img: np.ndarray, rng: np.random.Generator, *, brightness: float = 0.0,
                 contrast: float = 0.0, saturation: float = 0.0) -> np.ndarray:
    """Multiply brightness, contrast (about the mean grey) and saturation by factors drawn uniformly in
    ``[1 - s, 1 + s]``; the same factors for every frame in ``img`` ``[..., H, W, 3]`` uint8."""
    if not (brightness or contrast or saturation):
        return img
    x = img.astype(np.float32)
    b = rng.uniform(1 - brightness, 1 + brightness)
    c = rng.uniform(1 - contrast, 1 + contrast)
    s = rng.uniform(1 - saturation, 1 + saturation)
    x *= b
    grey = x @ np.array([0.299, 0.587, 0.114], np.float32)
    x = (x - grey.mean(axis=(-2, -1), keepdims=True)[..., None]) * c + grey.mean(
        axis=(-2, -1), keepdims=True)[..., None]
    grey = (x @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
    x = (x - grey) * s + grey
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)
