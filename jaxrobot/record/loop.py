"""A fixed-rate control loop clock and the timing statistics recordings carry.

Deadlines are absolute (``t0 + k * period``), so a late tick does not shift every later one; a tick more than
one period late re-anchors the clock and counts as an overrun instead of bursting to catch up (a burst would
command the follower several times within one period). Sleeping uses ``time.sleep`` until ~1 ms before the
deadline and spins the rest, which holds sub-millisecond jitter on an idle Linux box where ``sleep`` alone
overshoots by 50-100 us plus scheduler noise.
"""

from __future__ import annotations

import time

import numpy as np

SPIN_S = 0.001


class RateClock:
    """Ticks every ``period`` seconds. :meth:`tick` waits for the next deadline and returns the tick's start."""

    def __init__(self, period: float):
        if not period > 0:
            raise ValueError(f"period must be > 0 seconds, got {period}")
        self.period = float(period)
        self._next: float | None = None
        self._last: float | None = None
        self.periods: list[float] = []  # measured start-to-start intervals
        self.overruns = 0

    def tick(self) -> float:
        now = time.perf_counter()
        if self._next is None:
            self._next = now
        elif now > self._next + self.period:  # missed a whole period: re-anchor, never burst
            self.overruns += 1
            self._next = now
        else:
            while True:
                left = self._next - time.perf_counter()
                if left <= 0:
                    break
                if left > SPIN_S:
                    time.sleep(left - SPIN_S)
        start = time.perf_counter()
        if self._last is not None:
            self.periods.append(start - self._last)
        self._last = start
        self._next += self.period
        return start

    def restart(self) -> None:
        """Forget the schedule and the statistics (the ticks spent waiting for the operator's start, and the
        pause while an episode is saved, are not the recorded loop's jitter)."""
        self._next = self._last = None
        self.periods = []
        self.overruns = 0


def timing_stats(periods_s, latencies_s, nominal_s: float, overruns: int = 0) -> dict[str, float]:
    """Period jitter (|measured - nominal| period) and leader-to-follower latency percentiles, in ms;
    ``rate_hz`` is the loop's own rate (the task's control rate times the realtime factor)."""
    p = np.abs(np.asarray(periods_s, np.float64) - nominal_s) * 1e3
    lat = np.asarray(latencies_s, np.float64) * 1e3
    out = {"rate_hz": 1.0 / nominal_s, "ticks": int(len(lat)), "overruns": int(overruns)}
    for name, x in (("jitter", p), ("latency", lat)):
        for q in (50, 99):
            out[f"{name}_p{q}_ms"] = float(np.percentile(x, q)) if x.size else 0.0
        out[f"{name}_max_ms"] = float(x.max()) if x.size else 0.0
    return out
