"""Where training metrics go: ``metrics.jsonl`` (one object per logged step), TensorBoard, a progress bar."""

from __future__ import annotations

import json
import math
import pathlib
import sys
import time

import numpy as np


class MetricsWriter:
    """Appends to ``<workdir>/metrics.jsonl`` and TensorBoard event files (process 0 only)."""

    def __init__(self, workdir: pathlib.Path, enabled: bool = True, resume_step: int = 0):
        self.enabled = enabled
        self.path = workdir / "metrics.jsonl"
        self._tb = None
        if not enabled:
            return
        if resume_step is not None and self.path.exists():
            # After a kill, drop lines logged past the checkpoint we resume from: they are re-logged.
            keep = [ln for ln in self.path.read_text().splitlines()
                    if ln.strip() and json.loads(ln).get("step", 0) <= resume_step]
            self.path.write_text("".join(ln + "\n" for ln in keep))
        try:
            from tensorboardX import SummaryWriter

            self._tb = SummaryWriter(str(workdir / "tensorboard"))
        except ImportError:  # pragma: no cover - tensorboardX is a dependency
            self._tb = None

    def write(self, step: int, scalars: dict[str, float]) -> None:
        if not self.enabled:
            return
        record = {"step": int(step), **{k: _plain(v) for k, v in scalars.items()}}
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        if self._tb is not None:
            for k, v in scalars.items():
                if isinstance(v, (int, float)) and math.isfinite(v):
                    self._tb.add_scalar(k, v, step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def _plain(v):
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v


class Progress:
    """tqdm bar with steps/s, samples/s and ETA; silent when disabled or not on a terminal."""

    def __init__(self, total: int, initial: int, batch_size: int, enabled: bool = True):
        self.batch_size = batch_size
        self.bar = None
        self.t0, self.s0 = time.perf_counter(), initial
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, file=sys.stderr,
                            disable=None, mininterval=1.0)

    def rates(self, step: int) -> tuple[float, float]:
        dt = time.perf_counter() - self.t0
        sps = (step - self.s0) / dt if dt > 0 else 0.0
        return sps, sps * self.batch_size

    def update(self, step: int, loss: float | None = None) -> None:
        if self.bar is None:
            return
        sps, xps = self.rates(step)
        self.bar.n = step
        post = {"steps/s": f"{sps:.1f}", "samples/s": f"{xps:.0f}"}
        if loss is not None:
            post["loss"] = f"{loss:.4g}"
        self.bar.set_postfix(post, refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
