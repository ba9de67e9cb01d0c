"""MP4 frames by timestamp (decode) and MP4 writing (encode), with PyAV.

LeRobot stores camera streams as MP4 (AV1 through SVT-AV1 by default, ``yuv420p``, a keyframe every 2
frames, CRF 30: ``encode_video_frames`` in lerobot/datasets/video_utils.py) and finds frame ``t`` of an
episode at time ``from_timestamp + timestamp[t]`` of its file, within ``tolerance_s`` (1e-4 s by default).
:func:`decode_at` does the same: one seek to the keyframe before the first wanted time, then decoding forward
until the last one, keeping the frames nearest the wanted times. The bundled FFmpeg of PyAV decodes AV1
(libdav1d) and H.264/HEVC.

Open containers are kept per thread (a few each), so the decode threads of a training source seek inside
already-parsed files instead of reopening them.
"""

from __future__ import annotations

import collections
import fractions
import math
import os
import threading
from collections.abc import Sequence

import numpy as np

from jaxrobot.data.base import DataError

DEFAULT_TOLERANCE_S = 1e-4  # LeRobotDataset's tolerance_s
_MAX_OPEN_PER_THREAD = 8
_local = threading.local()
# Encoder settings of LeRobot 0.4.4's encode_video_frames: GOP 2 (cheap random access), CRF 30, SVT preset 12.
CODEC_OPTIONS = {
    "libsvtav1": lambda crf, gop: {"g": str(gop), "crf": str(crf), "preset": "12"},
    "libx264": lambda crf, gop: {"g": str(gop), "crf": str(crf)},
    "libx265": lambda crf, gop: {"g": str(gop), "crf": str(crf)},
}
CODEC_ALIASES = {"av1": "libsvtav1", "h264": "libx264", "hevc": "libx265"}


def _open(path: str):
    import av

    cache = getattr(_local, "containers", None)
    if cache is None:
        cache = _local.containers = collections.OrderedDict()
    c = cache.get(path)
    if c is not None:
        cache.move_to_end(path)
        return c
    try:
        c = av.open(path)
    except FileNotFoundError:
        raise DataError(f"{path}: missing video file") from None
    except av.error.FFmpegError as e:
        raise DataError(f"{path}: cannot open video ({e})") from None
    if not c.streams.video:
        c.close()
        raise DataError(f"{path}: no video stream")
    cache[path] = c
    while len(cache) > _MAX_OPEN_PER_THREAD:
        cache.popitem(last=False)[1].close()
    return c


def _forget(path: str) -> None:
    cache = getattr(_local, "containers", None)
    if cache is not None and path in cache:
        try:
            cache.pop(path).close()
        except Exception:  # closing a damaged container may raise again
            pass


def close_thread_videos() -> None:
    """Close the containers this thread keeps open."""
    for path in list(getattr(_local, "containers", {}) or {}):
        _forget(path)


def probe(path: str) -> dict:
    """``{"height", "width", "codec", "pix_fmt", "fps", "frames", "duration"}`` of the first video stream."""
    import av

    try:
        c = av.open(str(path))
    except (FileNotFoundError, av.error.FFmpegError) as e:
        raise DataError(f"{path}: cannot open video ({e})") from None
    with c:
        if not c.streams.video:
            raise DataError(f"{path}: no video stream")
        s = c.streams.video[0]
        duration = float(s.duration * s.time_base) if s.duration is not None else (
            c.duration / 1e6 if c.duration else 0.0)
        rate = s.average_rate or s.base_rate
        return {"height": s.codec_context.height, "width": s.codec_context.width, "codec": s.codec_context.name,
                "pix_fmt": s.codec_context.pix_fmt, "fps": float(rate) if rate else 0.0, "frames": int(s.frames),
                "duration": duration}


def decode_at(path: str, times: Sequence[float], *, tolerance_s: float = DEFAULT_TOLERANCE_S,
              where: str = "") -> np.ndarray:
    """The frames of ``path`` shown at ``times`` (seconds), as uint8 RGB ``[len(times), H, W, 3]``.

    Each time takes the decoded frame nearest to it; a time with no frame within ``tolerance_s`` is a
    :class:`DataError` naming the file (prefixed by ``where``), the times and the nearest frames found.
    """
    import av

    path = str(path)
    times = np.asarray(times, np.float64).reshape(-1)
    if not len(times):
        raise ValueError("decode_at needs at least one timestamp")
    want = np.unique(times)
    for attempt in range(2):
        c = _open(path)
        stream = c.streams.video[0]
        tb = float(stream.time_base)
        best: dict[int, tuple[float, np.ndarray]] = {}
        seen: list[float] = []
        start = 0.0 if attempt else max(0.0, want[0] - tolerance_s)
        try:
            c.seek(int(math.floor(start / tb)), stream=stream, backward=True, any_frame=False)
            for frame in c.decode(stream):
                if frame.pts is None:
                    continue
                t = float(frame.pts * tb)
                seen.append(t)
                j = int(np.searchsorted(want, t))
                for k in (j - 1, j):
                    if 0 <= k < len(want):
                        d = abs(want[k] - t)
                        if d < tolerance_s and (k not in best or d < best[k][0]):
                            best[k] = (d, frame.to_ndarray(format="rgb24"))
                if t > want[-1] + tolerance_s:
                    break
        except av.error.FFmpegError as e:
            _forget(path)
            raise DataError(f"{where}{path}: cannot decode video ({e})") from None
        if len(best) == len(want):
            break
        if attempt == 0 and seen and seen[0] > want[0] + tolerance_s:
            continue  # the seek overshot (a stream without a keyframe index): decode from the start
        break
    if len(best) != len(want):
        missing = [float(w) for k, w in enumerate(want) if k not in best]
        near = sorted(seen, key=lambda s: abs(s - missing[0]))[:3]
        raise DataError(f"{where}{path}: no frame within {tolerance_s} s of timestamp(s) "
                        f"{[round(m, 6) for m in missing[:5]]}{' ...' if len(missing) > 5 else ''} "
                        f"(nearest decoded: {[round(s, 6) for s in near]}; {len(seen)} frames decoded)")
    lookup = {float(w): best[k][1] for k, w in enumerate(want)}
    return np.stack([lookup[float(t)] for t in times])


def resolve_codec(name: str) -> str:
    """The FFmpeg encoder for ``name`` (``libsvtav1``/``av1``, ``libx264``/``h264``, ``libx265``/``hevc``),
    checked to exist in PyAV's FFmpeg."""
    import av

    codec = CODEC_ALIASES.get(name, name)
    if codec not in CODEC_OPTIONS:
        raise DataError(f"video codec {name!r}: use one of {sorted(set(CODEC_OPTIONS) | set(CODEC_ALIASES))}")
    try:
        av.codec.Codec(codec, "w")
    except Exception:  # av.codec.codec.UnknownCodecError
        raise DataError(f"video codec {codec!r} is not in this PyAV build's FFmpeg") from None
    return codec


class VideoWriter:
    """Frames appended to one MP4 at ``fps``: frame ``n`` is shown at ``n / fps`` s (episodes appended one
    after the other start where the previous one ended, as in LeRobot v3.0 files)."""

    def __init__(self, path: str, fps: float, height: int, width: int, *, codec: str = "libsvtav1",
                 crf: int = 30, gop: int = 2, pix_fmt: str = "yuv420p"):
        import av

        codec = resolve_codec(codec)
        if height % 2 or width % 2:
            raise DataError(f"{path}: {pix_fmt} video needs an even height and width, got {height}x{width}")
        os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its banner on stderr unless told otherwise
        self.path, self.height, self.width = str(path), height, width
        self.rate = fractions.Fraction(fps).limit_denominator(1001)
        self.frames = 0
        self.nbytes = 0
        self._c = av.open(self.path, "w")
        try:
            self._s = self._c.add_stream(codec, rate=self.rate, options=CODEC_OPTIONS[codec](crf, gop))
            self._s.width, self._s.height, self._s.pix_fmt = width, height, pix_fmt
            self._s.time_base = 1 / self.rate
        except Exception:
            self._c.close()
            raise

    def add(self, rgb: np.ndarray) -> None:
        import av

        rgb = np.asarray(rgb)
        if rgb.shape != (self.height, self.width, 3) or rgb.dtype != np.uint8:
            raise DataError(f"{self.path}: frame {self.frames} has shape {rgb.shape} dtype {rgb.dtype}; expected "
                            f"uint8 {(self.height, self.width, 3)}")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.frames
        frame.time_base = 1 / self.rate
        self._mux(self._s.encode(frame))
        self.frames += 1

    def _mux(self, packets) -> None:
        for p in packets:
            self.nbytes += p.size
            self._c.mux(p)

    @property
    def seconds(self) -> float:
        """Time at which the next frame will be shown."""
        return float(self.frames / self.rate)

    def close(self) -> None:
        if self._c is None:
            return
        try:
            self._mux(self._s.encode())
        finally:
            self._c.close()
            self._c = None

    def abort(self) -> None:
        if self._c is not None:
            try:
                self._c.close()
            except Exception:  # an encoder that failed mid-file may not close cleanly
                pass
            self._c = None
