"""Where a ``panda_pick_cube`` policy's grasps go wrong: the TCP-to-cube error at its first closing command.

    .venv/bin/python tools/grasp_closing.py --workdir W [--step N] [--episodes 64] [--seed 99] [--ensemble M] [--json]

Runs the checkpoint closed loop (the runner ``jaxrobot eval`` uses, same episodes for the same seed) and reads the
full task state beside the policy: it sees only its own inputs, the spy sees the cube. For each episode, the first
step whose commanded gripper width is below ``--close-below`` (the expert closes to ~1 cm): the x/y distance and
the height of the TCP over the cube, the yaw difference modulo a quarter turn, and whether the episode succeeded.
Prints medians for successes and failures; ``--json`` one line with every row.
Used for bench/RESULTS.md, "ACT from images: keypoint tokens, fine DART noise, and where the grasps fail".
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))


def closing_rows(states: np.ndarray, actions: np.ndarray, success: list[bool], close_below: float) -> list[dict]:
    """states [T, n, 29], actions [T, n, A] (width last) of one batch of episodes → one row per episode."""
    from jaxrobot.sim.geometry import quat_yaw, wrap_quarter

    rows = []
    for i in range(states.shape[1]):
        closed = np.nonzero(actions[:, i, -1] < close_below)[0]
        row: dict = {"episode": i, "success": bool(success[i]), "closed": bool(len(closed))}
        if len(closed):
            t = int(closed[0])
            s = states[t, i]
            tcp, cube = s[14:17], s[22:25]
            dyaw = float(wrap_quarter(quat_yaw(s[17:21]) - quat_yaw(s[25:29])))
            row.update(t=t, xy_mm=float(np.linalg.norm(tcp[:2] - cube[:2]) * 1e3),
                       dz_mm=float((tcp[2] - cube[2]) * 1e3), dyaw_deg=float(np.degrees(dyaw)))
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--step", type=int)
    ap.add_argument("--episodes", type=int, default=64, help="one batch: at most 64")
    ap.add_argument("--seed", type=int, default=99)
    ap.add_argument("--close-below", type=float, default=0.06, help="gripper width command (m) read as closing")
    ap.add_argument("--ensemble", type=float, help="temporal ensembling coefficient m instead of the checkpoint's "
                    "(weights exp(-m i), i = 0 the oldest prediction: m < 0 favours the newest)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if not 1 <= args.episodes <= 64:
        ap.error(f"--episodes must be in 1..64 (one batch of environments), got {args.episodes}")

    from jaxrobot import platform

    platform.configure()
    from jaxrobot.policies.evaluation import load_policy, task_env
    from jaxrobot.sim.evaluate import evaluate

    runner, meta = load_policy(args.workdir, args.step, seed=args.seed)
    if args.ensemble is not None:
        if runner.ensembler is None:
            ap.error("--ensemble: the checkpoint's policy does not ensemble (n_action_steps > 1)")
        runner.ensembler.m = args.ensemble
    env = task_env("panda_pick_cube", meta["data_spec"], meta["data_spec"].get("action_dim"),
                   f"the policy in {args.workdir}")
    log: list[tuple[np.ndarray, np.ndarray]] = []

    class Spy:
        def reset(self, n=None):
            log.clear()
            runner.reset(n)

        def __call__(self, obs, rng=None):
            action = runner(obs, rng)
            log.append((np.asarray(obs["state"]), np.asarray(action)))
            return action

    res = evaluate(Spy(), env, n_envs=args.episodes, episodes=args.episodes, seed=args.seed)
    states = np.stack([s for s, _ in log])
    actions = np.stack([a for _, a in log])
    rows = closing_rows(states, actions, res["episode_success"], args.close_below)
    summary = {"success_rate": res["success_rate"], "step": meta["step"],
               "ensemble": None if runner.ensembler is None else runner.ensembler.m}
    for name, want in (("success", True), ("failure", False)):
        group = [r for r in rows if r["success"] == want and r["closed"]]
        if group:
            summary[name] = {"episodes": len(group),
                             "xy_mm_median": float(np.median([r["xy_mm"] for r in group])),
                             "closed_above_30mm": int(sum(r["dz_mm"] > 30 for r in group)),
                             "first_close_step_range": [min(r["t"] for r in group), max(r["t"] for r in group)]}
    summary["never_closed"] = int(sum(not r["closed"] for r in rows))
    if args.json:
        print(json.dumps({**summary, "rows": rows}))
    else:
        print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
