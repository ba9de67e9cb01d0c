"""``jaxrobot record`` and ``jaxrobot replay``: teleoperated demonstrations into RLDS, and their replay.

Fixed interface (scripts rely on it):

- ``jaxrobot record --task TASK --leader sim --episodes N --out DIR [--seed S] [--realtime-factor F]`` records N
  *new* accepted episodes headless into split ``train`` (F > 1 runs faster than real time); the last stdout line
  is the dataset path. An ``--out`` that already holds that task's dataset is appended to, whatever ``--seed``,
  and the same path is printed.
- After a ``kill -9`` during ``jaxrobot record``, every episode accepted before it is readable by
  ``tfds.builder_from_directory``, and the same command appends again.

``jaxrobot calibrate-arm --bus dynamixel|feetech --port P --ids 1,2,-,3,4,5,6 --gripper-id 7 --out arm.json``
writes a leader arm's calibration from three readings (home pose, gripper open, closed).

``jaxrobot replay DATASET --episode I --task T [--engine mjx|c] [--json]`` replays episode I's actions in the
simulation and prints the drift between recorded and replayed states.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

LEADERS = ("sim", "keyboard", "gamepad", "spacemouse", "arm")


def register(subparsers) -> None:
    p = subparsers.add_parser("record", help="record demonstrations from a leader device into RLDS (appends)")
    p.add_argument("--task", required=True, help="the simulated follower's task (e.g. panda_pick_cube)")
    p.add_argument("--leader", required=True, choices=LEADERS,
                   help="sim: scripted operator with human timing; keyboard/gamepad/spacemouse: end-effector "
                        "teleoperation; arm: a Dynamixel/Feetech leader arm (--calibration)")
    p.add_argument("--episodes", type=int, required=True, help="new accepted episodes to record")
    p.add_argument("--out", required=True, help="output directory (parent of the dataset folder); appends")
    p.add_argument("--seed", type=int, default=0, help="start states are those of (seed, index)")
    p.add_argument("--realtime-factor", type=float, default=1.0,
                   help="> 1 runs faster than real time (tests, benchmarks); 1 is real time")
    p.add_argument("--image-size", type=int, default=0, help="record camera images of this side (0: state only)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a task config field (repeatable), as gen-demos")
    p.add_argument("--operator", default=None, help="operator name stored with each episode")
    p.add_argument("--calibration", default=None, help="leader arm calibration JSON (--leader arm)")
    p.add_argument("--no-media", action="store_true", help="skip the MP4 and contact sheet of each episode")
    view = p.add_mutually_exclusive_group()
    view.add_argument("--view", dest="view", action="store_true", default=None, help="open MuJoCo's live viewer")
    view.add_argument("--no-view", dest="view", action="store_false", help="no live viewer")
    p.add_argument("--json", action="store_true", help="print the session's statistics as one JSON line (stderr)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_record)

    p = subparsers.add_parser("calibrate-arm", help="write a leader arm's calibration file (interactive)")
    p.add_argument("--bus", required=True, choices=("dynamixel", "feetech"))
    p.add_argument("--port", required=True, help="serial port of the servo bus (e.g. /dev/ttyUSB0)")
    p.add_argument("--ids", required=True,
                   help="servo ID per Panda joint 1..7, comma separated; '-' for a joint the leader lacks "
                        "(held at the home pose), e.g. 1,2,-,3,4,5,6")
    p.add_argument("--gripper-id", type=int, required=True)
    p.add_argument("--directions", default="1,1,1,1,1,1,1", help="+1/-1 per joint (servo turns with the joint)")
    p.add_argument("--baudrate", type=int, default=1_000_000)
    p.add_argument("--out", required=True, help="calibration JSON to write")
    p.set_defaults(func=_calibrate_arm)

    p = subparsers.add_parser("replay", help="replay a recorded episode in simulation and report the drift")
    p.add_argument("dataset", help="dataset folder (as `jaxrobot record` prints it)")
    p.add_argument("--episode", type=int, required=True)
    p.add_argument("--task", required=True)
    p.add_argument("--split", default="train")
    p.add_argument("--engine", choices=("mjx", "c"), default="mjx",
                   help="mjx: the training/evaluation env; c: MuJoCo C, as recorded")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.set_defaults(func=_replay)


def _record(args: argparse.Namespace) -> int:
    from jaxrobot.cli.errors import CliError

    if args.episodes < 1:
        raise CliError(f"--episodes must be >= 1, got {args.episodes}")
    if not (math.isfinite(args.realtime_factor) and args.realtime_factor > 0):
        raise CliError(f"--realtime-factor must be a finite number > 0, got {args.realtime_factor}")
    if not 0 <= args.seed < 2**32:
        raise CliError(f"--seed must be in [0, 2**32), got {args.seed}")
    import contextlib

    from jaxrobot.cli.sim import load_task
    from jaxrobot.record.follower import SimFollower
    from jaxrobot.record.leaders import make_leader
    from jaxrobot.record.recorder import Recorder

    env = load_task(args.task, args.set, args.image_size)
    with contextlib.ExitStack() as stack:  # a failed start still closes the viewer and the leader's device
        follower = SimFollower(env, view=args.view)  # first: it says which tasks can be recorded
        stack.callback(follower.close)
        leader = make_leader(args.leader, env, seed=args.seed, operator=args.operator, calibration=args.calibration)
        stack.callback(leader.close)
        rec = stack.enter_context(Recorder(env, args.task, leader, follower, args.out, seed=args.seed,
                                           realtime_factor=args.realtime_factor, media=not args.no_media,
                                           progress=not args.no_progress))
        if rec.appender.removed:
            print(f"cleaned up after an interrupted recording: {len(rec.appender.removed)} uncommitted file(s)",
                  file=sys.stderr)
        before = rec.appender.num_episodes
        res = rec.run(args.episodes)
    if res.total_episodes == 0:
        print("nothing recorded: the operator quit before accepting an episode", file=sys.stderr)
        return 1
    t = res.timing
    print(f"{res.accepted} accepted, {res.discarded} discarded in {res.seconds:.1f} s ({res.demos_per_hour:.0f} "
          f"demos/hour); dataset now {res.total_episodes} episodes (was {before}); loop {t['rate_hz']:.0f} Hz "
          f"x{args.realtime_factor:g}: jitter p99 {t['jitter_p99_ms']:.2f} ms, latency p99 "
          f"{t['latency_p99_ms']:.2f} ms, {t['overruns']} overruns", file=sys.stderr)
    if args.json:
        print(json.dumps({"accepted": res.accepted, "discarded": res.discarded, "episodes": res.total_episodes,
                          "seconds": res.seconds, "demos_per_hour": res.demos_per_hour, "quit": res.quit,
                          "timing": t}), file=sys.stderr)
    print(res.path)
    return 0


def _calibrate_arm(args: argparse.Namespace) -> int:
    """Three readings, each after the operator presses Enter: home pose, gripper open, gripper closed."""
    from jaxrobot.cli.errors import CliError
    from jaxrobot.record.devices.servo_bus import ServoBus
    from jaxrobot.record.leaders.arm import calibrate, save_calibration

    def ints(text: str, what: str, allow_missing: bool = False) -> list[int | None]:
        out: list[int | None] = []
        for part in text.split(","):
            part = part.strip()
            if allow_missing and part in ("-", "none", "None"):
                out.append(None)
                continue
            try:
                out.append(int(part))
            except ValueError:
                raise CliError(f"{what}: {part!r} is not an integer (got {text!r})") from None
        if len(out) != 7:
            raise CliError(f"{what}: needs 7 comma-separated entries (one per Panda joint), got {len(out)}")
        return out

    ids = ints(args.ids, "--ids", allow_missing=True)
    directions = ints(args.directions, "--directions")
    if any(d not in (1, -1) for d in directions):
        raise CliError(f"--directions: each entry must be 1 or -1, got {args.directions!r}")
    if all(i is None for i in ids):
        raise CliError("--ids: at least one Panda joint needs a servo")
    bus_ids = [i for i in ids if i is not None] + [args.gripper_id]
    if len(set(bus_ids)) != len(bus_ids):
        raise CliError(f"--ids / --gripper-id: each servo ID once, got {bus_ids}")
    with ServoBus(args.bus, args.port, bus_ids, args.baudrate) as bus:  # torque off: the arm moves by hand

        def reading(prompt: str) -> dict[int, int]:
            print(prompt, file=sys.stderr, flush=True)
            if not sys.stdin.readline():
                raise CliError("calibrate-arm reads Enter from the terminal after each pose; standard input ended")
            return dict(zip(bus_ids, (int(t) for t in bus.read_ticks()), strict=True))

        home = reading("Hold the leader arm in the Panda's home pose (elbow bent, hand down), then press Enter.")
        opened = reading("Open the leader's gripper fully, then press Enter.")[args.gripper_id]
        closed = reading("Close the leader's gripper fully, then press Enter.")[args.gripper_id]
    cal = calibrate(args.bus, args.port, ids, home, args.gripper_id, opened, closed, directions=directions,
                    baudrate=args.baudrate)
    path = save_calibration(cal, args.out)
    print(path)
    return 0


def _replay(args: argparse.Namespace) -> int:
    from jaxrobot.cli.errors import CliError
    from jaxrobot.data.rlds.reader import RldsDataset
    from jaxrobot.record.replay import replay_episode
    from jaxrobot.sim import registry

    ds = RldsDataset(args.dataset, split=args.split)
    if not 0 <= args.episode < len(ds):
        raise CliError(f"--episode {args.episode}: {args.dataset} split {args.split!r} has {len(ds)} episodes")
    made = ds.metadata.get("jaxrobot_sim") or {}
    if made.get("task") not in (None, args.task):
        raise CliError(f"{args.dataset} holds episodes of task {made['task']!r}, not {args.task!r}: replay them with "
                       f"--task {made['task']}")
    config = None
    if made.get("task") == args.task and made.get("config"):
        from jaxrobot import config as config_lib

        config = config_lib.from_dict(made["config"])  # the config it was recorded with (action space, rate)
    env = registry.load(args.task, config)
    res = replay_episode(env, ds[args.episode], engine=args.engine)
    if args.json:
        print(json.dumps(res))
    else:
        print(f"episode {args.episode}: {res['steps']} steps replayed in {res['engine']}; success recorded "
              f"{res['recorded_success']}, replayed {res['replay_success']}; TCP drift max {res['tcp_mm_max']:.2f} "
              f"mm (final {res['tcp_mm_final']:.2f}), joints max {res['joints_rad_max']:.4f} rad"
              + (f", object max {res['object_mm_max']:.2f} mm" if "object_mm_max" in res else ""))
    return 0
