"""Episode control for recording: takes, accept / discard / re-record, and the dataset they go to.

A *take* is one attempt at an episode: the follower starts at the task's start state for (seed, index), the
leader is read and the follower commanded once per control period (:class:`~jaxrobot.record.loop.RateClock`)
until the task ends it (success, failure, time limit) or the operator does (an ``accept``, ``discard``,
``rerecord`` or ``quit`` event). The operator then keeps it or not (:meth:`Leader.decide` when the task ended
it). An accepted take is committed at once, atomically, by :class:`~jaxrobot.data.rlds.appender.EpisodeAppender`
(a crash loses at most the take in progress), and gets an MP4 and a contact sheet.

Headless use (the API the CLI drives)::

    with Recorder(env, "panda_pick_cube", leader, SimFollower(env), out_dir) as rec:
        take = rec.take()                  # one attempt, at the fixed rate
        if take.success:
            rec.accept(take)               # committed; returns its index in the dataset
        else:
            rec.discard(take)              # the next take starts at the next start state
        rec.run(10)                        # or: until 10 more are accepted

Dataset layout: exactly that of ``jaxrobot sim gen-demos`` (:func:`jaxrobot.sim.demos.features`, same
``metadata.json`` ``jaxrobot_sim`` entry, so training and ``jaxrobot eval`` treat both alike), plus per-episode
``episode_metadata/{leader, operator, recorded_at, duration_s, rate_hz, jitter_p99_ms, latency_p99_ms,
overruns}`` and a dataset-level ``jaxrobot_record`` entry (leader, rate, sessions with their timing).
"""

from __future__ import annotations

import dataclasses
import gc
import os
import sys
import time
from typing import Any

import jax
import numpy as np

from jaxrobot import config as config_lib
from jaxrobot.data.base import DataError
from jaxrobot.data.rlds.appender import EpisodeAppender
from jaxrobot.record.follower import Follower
from jaxrobot.record.leaders.base import Leader, LeaderError
from jaxrobot.record.loop import RateClock, timing_stats
from jaxrobot.sim.demos import dataset_name, features, make_episode

RECORD_KEY = "jaxrobot_record"
MEDIA_DIR = "recording_media"

_EPISODE_EXTRAS = {
    "episode_metadata/leader": {"shape": (), "dtype": "string"},
    "episode_metadata/operator": {"shape": (), "dtype": "string"},
    "episode_metadata/recorded_at": {"shape": (), "dtype": "string"},
    "episode_metadata/duration_s": {"shape": (), "dtype": "float32"},
    "episode_metadata/rate_hz": {"shape": (), "dtype": "float32"},
    "episode_metadata/jitter_p99_ms": {"shape": (), "dtype": "float32"},
    "episode_metadata/latency_p99_ms": {"shape": (), "dtype": "float32"},
    "episode_metadata/overruns": {"shape": (), "dtype": "int64"},
}


def recording_features(env: Any) -> dict[str, dict[str, Any]]:
    """The scripted demos' features plus the recording's per-episode metadata."""
    return {**features(env), **_EPISODE_EXTRAS}


@dataclasses.dataclass
class Take:
    """One attempt at an episode. ``ended_by``: ``"task"`` (success, failure or time limit) or the operator's
    event (``accept``, ``discard``, ``rerecord``, ``quit``)."""

    index: int
    steps: dict[str, np.ndarray]
    qpos: np.ndarray
    success: bool
    ended_by: str
    periods: list[float]
    latencies: list[float]
    overruns: int
    started_at: float
    seconds: float

    @property
    def length(self) -> int:
        return len(self.steps["reward"])


@dataclasses.dataclass
class RecordResult:
    """What :meth:`Recorder.run` did. ``demos_per_hour`` counts the whole wall time (takes, saving, media)."""

    path: str
    accepted: int
    discarded: int
    total_episodes: int
    seconds: float
    demos_per_hour: float
    timing: dict[str, float]
    quit: bool = False


class Recorder:
    """Records takes from ``leader`` on ``follower`` into the RLDS dataset ``<out_dir>/jaxrobot_sim_<task>``.

    Args:
        env: the task (its features, action space and config describe the dataset).
        task: registered task name (dataset name and ``metadata.json``).
        seed: start states are those of ``(seed, index)``; indices continue where the dataset's earlier
            sessions with this seed stopped, so appending never repeats a start.
        realtime_factor: > 1 runs the loop faster than real time (tests, benchmarks).
        media: write an MP4 and a contact sheet per accepted episode (``<out_dir>/recording_media/``).
    """

    def __init__(self, env: Any, task: str, leader: Leader, follower: Follower, out_dir: str, *, seed: int = 0,
                 realtime_factor: float = 1.0, media: bool = True, progress: bool = True):
        if not realtime_factor > 0:
            raise ValueError(f"realtime_factor must be > 0, got {realtime_factor}")
        self.env, self.task, self.leader, self.follower = env, task, leader, follower
        self.seed, self.realtime_factor = int(seed), float(realtime_factor)
        self.period = follower.control_dt / self.realtime_factor
        self.media, self.progress = media, progress
        self.out_dir = os.path.abspath(out_dir)
        made = {"task": task, "config": config_lib.to_dict(env.config), "seed": self.seed, "source": "record"}
        self.appender = EpisodeAppender(
            self.out_dir, dataset_name(task), features=recording_features(env), split="train",
            metadata={"jaxrobot_sim": made},
            description=f"jaxrobot recorded demonstrations of {task} (leader {leader.name})")
        self._session: dict[str, Any] = {}
        self._all_periods: list[float] = []
        self._all_latencies: list[float] = []
        self._overruns = 0

    # ------------------------------------------------------------------ dataset

    @property
    def path(self) -> str:
        return self.appender.path

    def open(self) -> Recorder:
        try:
            self.appender.open()
            meta = self.appender.metadata
            old = meta.get("jaxrobot_sim", {})
            if self.appender.exists and old.get("task") not in (None, self.task):
                raise DataError(f"{self.path}: holds demonstrations of task {old.get('task')!r}, not {self.task!r}")
            if self.appender.exists and old.get("config") not in (None, config_lib.to_dict(self.env.config)):
                raise DataError(f"{self.path}: was recorded with another {self.task} config (action space, "
                                "cameras, rate ...); record into another --out or with the same --set options")
            rec = dict(meta.get(RECORD_KEY, {}))
            rec.setdefault("sessions", [])
            rec.setdefault("next_index", {})
            self.next_index = int(rec["next_index"].get(str(self.seed), 0))
            self._session = {"leader": self.leader.name, "operator": self.leader.operator, "seed": self.seed,
                             "rate_hz": 1.0 / self.follower.control_dt, "realtime_factor": self.realtime_factor,
                             "started_at": _now(), "accepted": 0, "discarded": 0}
            rec["sessions"] = rec["sessions"] + [self._session]
            meta[RECORD_KEY] = rec
            meta.setdefault("jaxrobot_sim", {"task": self.task, "config": config_lib.to_dict(self.env.config),
                                             "seed": self.seed, "source": "record"})
            self._meta = meta
            self._warm_up()
        except BaseException:
            self.close()  # the lock, and the follower's viewer and the leader's device with it
            raise
        return self

    def close(self) -> None:
        try:
            self.appender.close()
        finally:
            try:
                self.follower.close()
            finally:
                self.leader.close()

    def __enter__(self) -> Recorder:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def _warm_up(self) -> None:
        """One untimed tick before the first take: the first calls of the jitted leader and follower functions
        compile (or load from the compilation cache), ~0.7 s that would otherwise stall the first recorded tick."""
        state = self.follower.reset(self.seed, self.next_index)
        self.leader.warm_up(state)
        if hasattr(self.env, "action_for"):  # hold still (Panda tasks: state[21] is the gripper width)
            pos, rot = self.env.kin.fk_matrix(state.info["q_cmd"])
            self.follower.step(np.asarray(self.env.action_for(state, pos, rot, state.obs["state"][21]), np.float32))

    # ------------------------------------------------------------------ takes

    def _wait_for_start(self, clock: RateClock, state: Any) -> bool:
        """Poll the leader until it raises ``start`` (True) or ``quit`` (False); the follower holds."""
        while True:
            clock.tick()
            events = self.leader.read(state).events
            if "quit" in events:
                return False
            if "start" in events:
                return True

    def take(self, index: int | None = None) -> Take:
        """Record one attempt from the start state of ``index`` (default: the next new one).

        Python's cyclic garbage collector is paused during the take and run before it: its full collections
        stop the process for 100-220 ms here (measured: those were every overrun of a 50 Hz session), while
        a take allocates little that only the cycle collector frees.
        """
        enabled = gc.isenabled()
        gc.collect()
        gc.disable()
        try:
            return self._take(index)
        finally:
            if enabled:
                gc.enable()

    def _take(self, index: int | None) -> Take:
        index = self.next_index if index is None else int(index)
        clock = RateClock(self.period)
        state = self.follower.reset(self.seed, index)
        self.leader.begin(state, index)
        if self.leader.needs_start and not self._wait_for_start(clock, state):
            return self._empty_take(index, time.time(), "quit")
        clock.restart()
        started = time.time()  # the take starts when the operator starts it
        obs: list[dict[str, np.ndarray]] = []
        actions, rewards, success, done, qpos = [], [], [], [], [self.follower.qpos()]
        latencies: list[float] = []
        ended_by = "task"
        limit = int(self.env.config.episode_steps)
        while True:
            t0 = clock.tick()
            cmd = self.leader.read(state)
            ev = cmd.events & {"accept", "discard", "rerecord", "quit"}
            if ev:
                ended_by = next(e for e in ("quit", "discard", "rerecord", "accept") if e in ev)
                break
            if cmd.action is None:
                continue  # the operator has not commanded anything yet: the follower holds
            action = np.asarray(cmd.action, np.float32)
            if action.shape != (self.env.action_size,) or not np.all(np.isfinite(action)):
                raise LeaderError(f"leader {self.leader.name!r} gave action {action!r} at tick {len(actions)}: "
                                  f"needs {self.env.action_size} finite numbers ({self.env.config.action_space})")
            obs.append(jax.device_get(state.obs))
            sent = time.perf_counter()
            state = self.follower.step(action)
            latencies.append((self.follower.commanded_at or sent) - t0)  # leader read -> command applied
            actions.append(action)
            r, ok, end = jax.device_get((state.reward, state.success, state.done))  # one transfer a tick
            rewards.append(float(r))
            success.append(bool(ok))
            done.append(bool(end))
            qpos.append(self.follower.qpos())
            if done[-1] or len(actions) >= limit:
                break
        steps = {f"obs/{k}": np.stack([o[k] for o in obs]) for k in (obs[0] if obs else {})}
        steps.update(label=np.asarray(actions, np.float32).reshape(-1, self.env.action_size),
                     reward=np.asarray(rewards, np.float32), success=np.asarray(success, bool),
                     done=np.asarray(done, bool))
        steps["executed"] = steps["label"]
        return Take(index=index, steps=steps, qpos=np.stack(qpos), success=bool(success and success[-1]),
                    ended_by=ended_by, periods=list(clock.periods), latencies=latencies, overruns=clock.overruns,
                    started_at=started, seconds=time.time() - started)

    def _empty_take(self, index: int, started: float, ended_by: str) -> Take:
        return Take(index=index, steps={"reward": np.zeros(0, np.float32)}, qpos=np.zeros((0, self.env.mj_model.nq)),
                    success=False, ended_by=ended_by, periods=[], latencies=[], overruns=0, started_at=started,
                    seconds=time.time() - started)

    # ------------------------------------------------------------------ decisions

    def _absorb_timing(self, take: Take) -> dict[str, float]:
        self._all_periods += take.periods
        self._all_latencies += take.latencies
        self._overruns += take.overruns
        return timing_stats(take.periods, take.latencies, self.period, take.overruns)

    def accept(self, take: Take) -> int:
        """Commit ``take`` to the dataset (atomically); returns its index in the ``train`` split."""
        if take.length == 0:
            raise DataError("cannot accept an empty take (the operator ended it before any command)")
        t = self._absorb_timing(take)
        _, ep = make_episode(take.steps, self.env, self.seed, take.index)
        ep.update({
            "episode_metadata/leader": self.leader.name, "episode_metadata/operator": self.leader.operator,
            "episode_metadata/recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(take.started_at)),
            "episode_metadata/duration_s": np.float32(take.seconds),
            "episode_metadata/rate_hz": np.float32(1.0 / self.follower.control_dt),
            "episode_metadata/jitter_p99_ms": np.float32(t["jitter_p99_ms"]),
            "episode_metadata/latency_p99_ms": np.float32(t["latency_p99_ms"]),
            "episode_metadata/overruns": np.int64(take.overruns),
        })
        session = dict(self._session)
        self._session["accepted"] += 1
        self._advance(take)
        self.appender.update_metadata(self._meta)
        try:
            position = self.appender.append(ep)
        except BaseException:
            self._session.clear()
            self._session.update(session)  # not committed: the counts stay those of the dataset
            raise
        if self.media:
            try:
                self._write_media(take, position)
            except Exception as e:  # noqa: BLE001 - the episode is committed; a video is not worth the session
                print(f"jaxrobot record: no video for episode {position} ({type(e).__name__}: {e})",
                      file=sys.stderr)
        return position

    def discard(self, take: Take) -> None:
        """Drop ``take``; the next take starts at the next start state."""
        self._absorb_timing(take)
        self._session["discarded"] += 1
        self._advance(take)

    def _advance(self, take: Take) -> None:
        self.next_index = max(self.next_index, take.index + 1)
        rec = self._meta[RECORD_KEY]
        rec["next_index"] = dict(rec["next_index"], **{str(self.seed): self.next_index})
        self._session["timing"] = timing_stats(self._all_periods, self._all_latencies, self.period,
                                               self._overruns)
        self._session["ended_at"] = _now()

    def _write_media(self, take: Take, position: int) -> None:
        from jaxrobot.sim.evaluate import grid_image, render_episodes, resolve_video_format, write_gif, write_mp4

        folder = os.path.join(self.out_dir, MEDIA_DIR, dataset_name(self.task))
        os.makedirs(folder, exist_ok=True)
        stem = os.path.join(folder, f"episode_{position:05d}")
        try:
            cams = tuple(getattr(self.env.config, "cameras", ()))
            frames = render_episodes(self.env, [take.qpos], size=(240, 320),
                                     camera="scene" if "scene" in cams else -1)[0]
        except Exception as e:  # no GL on this machine: the data matters, the video does not
            print(f"jaxrobot record: no video for episode {position} ({type(e).__name__}: {e})", file=sys.stderr)
            return
        fmt = resolve_video_format(None)  # played at the control rate: real time whatever the realtime factor
        (write_mp4 if fmt == "mp4" else write_gif)(frames, f"{stem}.{fmt}", 1.0 / self.follower.control_dt)
        from PIL import Image

        Image.fromarray(grid_image([frames], [take.success], keyframes=8)).save(f"{stem}.png")

    # ------------------------------------------------------------------ sessions

    def run(self, episodes: int, max_attempts: int | None = None) -> RecordResult:
        """Record until ``episodes`` new takes are accepted (or the operator quits).

        A scripted leader (no ``start`` from an operator) gives up with a clear error after ``max_attempts``
        takes (default ``max(4 * episodes, 20)``) instead of failing forever, as ``gen-demos`` does.
        """
        if episodes < 1:
            raise ValueError(f"episodes must be >= 1, got {episodes}")
        if max_attempts is None and not self.leader.needs_start:
            max_attempts = max(4 * episodes, 20)
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(total=episodes, desc=f"record {self.task} ({self.leader.name})", unit="ep", file=sys.stderr)
        t0 = time.perf_counter()
        accepted = discarded = 0
        quit_ = False
        retry: int | None = None
        try:
            while accepted < episodes:
                if max_attempts is not None and accepted + discarded >= max_attempts:
                    raise DataError(f"only {accepted} of {episodes} takes accepted after {accepted + discarded} "
                                    f"(leader {self.leader.name!r} on {self.task}); the time limit "
                                    f"(episode_steps={self.env.config.episode_steps}) may be too short")
                take = self.take(retry)
                retry = None
                decision = take.ended_by if take.ended_by != "task" else self.leader.decide(take.success)
                if decision == "accept" and take.length:
                    self.accept(take)
                    accepted += 1
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(discarded=discarded)
                elif decision == "rerecord":
                    self._absorb_timing(take)
                    retry = take.index  # the same start state again
                else:
                    self.discard(take)
                    discarded += 1
                if decision == "quit":
                    quit_ = True
                    break
        finally:
            if bar is not None:
                bar.close()
        seconds = time.perf_counter() - t0
        return RecordResult(path=self.path, accepted=accepted, discarded=discarded,
                            total_episodes=self.appender.num_episodes, seconds=seconds,
                            demos_per_hour=accepted / max(seconds, 1e-9) * 3600,
                            timing=timing_stats(self._all_periods, self._all_latencies, self.period, self._overruns),
                            quit=quit_)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")
