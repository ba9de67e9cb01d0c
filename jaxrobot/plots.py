"""PNG line plots of results: learning curves (a metric against training steps) and success against a budget.

People compare runs by looking at curves, so every study that reports success against steps, demonstrations
or environment steps writes one of these next to its table. matplotlib draws them (Agg backend: no display);
a success rate carries its Wilson interval as a shaded band. Files are written atomically (temp + rename).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from collections.abc import Sequence

__all__ = ["Series", "read_curve", "save_line_plot"]


@dataclasses.dataclass(frozen=True)
class Series:
    """One line: ``y`` against ``x``, optionally with a band ``[lo, hi]`` (e.g. a 95% interval)."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    lo: Sequence[float] | None = None
    hi: Sequence[float] | None = None

    def __post_init__(self) -> None:
        n = len(self.x)
        if len(self.y) != n or (self.lo is not None and len(self.lo) != n) or (self.hi is not None
                                                                               and len(self.hi) != n):
            raise ValueError(f"series {self.label!r}: x, y, lo and hi must have the same length")
        if (self.lo is None) != (self.hi is None):
            raise ValueError(f"series {self.label!r}: give both lo and hi, or neither")


def read_curve(workdir: str | os.PathLike, metric: str = "eval/success_rate", label: str | None = None) -> Series:
    """``metric`` against ``step`` from a run's ``metrics.jsonl``; for ``eval/success_rate`` the band is the
    logged Wilson interval (``eval/ci95_lo``/``eval/ci95_hi``). ``ValueError`` when the run never logged it."""
    path = pathlib.Path(workdir) / "metrics.jsonl"
    if not path.is_file():
        raise ValueError(f"{path}: no metrics.jsonl (is {workdir} a training run folder?)")
    xs, ys, lo, hi = [], [], [], []
    band = metric == "eval/success_rate"
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        if metric in rec:
            xs.append(float(rec["step"]))
            ys.append(float(rec[metric]))
            if band:
                lo.append(float(rec.get("eval/ci95_lo", rec[metric])))
                hi.append(float(rec.get("eval/ci95_hi", rec[metric])))
    if not xs:
        raise ValueError(f"{path}: no {metric!r} logged (known: see the keys of its lines)")
    return Series(label or pathlib.Path(workdir).name, xs, ys, lo if band else None, hi if band else None)


def save_line_plot(path: str | os.PathLike, series: Sequence[Series], *, xlabel: str, ylabel: str,
                   title: str = "", ylim: tuple[float, float] | None = None, logx: bool = False,
                   hline: float | None = None) -> pathlib.Path:
    """Draw ``series`` (markers + lines, shaded bands) into the PNG ``path``; ``hline`` marks a goal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not series:
        raise ValueError("nothing to plot: no series")
    path = pathlib.Path(path)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    try:
        for s in series:
            (line,) = ax.plot(s.x, s.y, marker="o", markersize=3.5, label=s.label)
            if s.lo is not None:
                ax.fill_between(s.x, s.lo, s.hi, alpha=0.2, color=line.get_color(), linewidth=0)
        if hline is not None:
            ax.axhline(hline, color="0.4", linestyle="--", linewidth=1, label=f"goal {hline:g}")
        if logx:
            ax.set_xscale("log")
            xs = sorted({float(x) for s in series for x in s.x})
            ax.set_xticks(xs, [f"{x:g}" for x in xs])
            ax.minorticks_off()
        if ylim is not None:
            ax.set_ylim(*ylim)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        fig.savefig(tmp, format="png")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
    return path
