"""Vision benchmark: batch-1 jit inference latency of each vision network and the IBVS loop rate.

    python bench/vision.py [--size 64] [--reps 200]

Prints one JSON line:
  ``<net>_ms``: median batch-1 latency (ms) of the jitted forward pass (params initialised at random;
    latency does not depend on the values), for GG-CNN2 and GR-ConvNet at ``size``×``size`` depth,
    GR-ConvNet RGB-D, the GQ-CNN-style scorer (one 32×32 crop), the servo network (two 32×32 RGB) and the
    PoseCNN-style pose network (64×64 RGB-D; ``pose_ms`` is the whole estimate: segmentation, Hough voting,
    rotation head, back-projection, with ``experiments/pose_objects.py``'s model config);
  ``gqcnn_cem_ms``: antipodal sampling (64 candidates) + 3 CEM iterations on one depth image;
  ``ibvs_law_hz``: jitted IBVS law evaluations per second (4 points, one call per iteration, as a
    control loop runs); ``ibvs_sim_steps_per_s``: law + kinematic integration steps per second inside
    one scanned simulation; ``params``: parameter counts.
Peer number (shared/FACTS.md): GG-CNN 62,420 params, 19 ms (GPU, its paper); a grasp CNN here ran
0.8 ms jit at batch 1.
"""

from __future__ import annotations

import argparse
import json
import time

from jaxrobot import platform

platform.configure()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from measure import median_ms  # noqa: E402  (bench/ is this script's folder, first on sys.path)

from jaxrobot.models.grasp import GraspCandidateConfig, GraspCandidateModel, GraspMapConfig, GraspMapModel  # noqa: E402
from jaxrobot.models.pose import PoseModel  # noqa: E402
from jaxrobot.models.servo import ServoConfig, ServoModel  # noqa: E402
from jaxrobot.skills.grasping.synthetic import box_scene  # noqa: E402
from jaxrobot.vision import camera as cam_lib  # noqa: E402
from jaxrobot.vision.grasp_candidates import cross_entropy_method, sample_antipodal  # noqa: E402
from jaxrobot.vision.ibvs import ibvs_velocity, project_normalized, se3_exp, simulate_ibvs  # noqa: E402


def n_params(p) -> int:
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(p)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--reps", type=int, default=200)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    out: dict = {"size": args.size, "params": {}}
    key = jax.random.PRNGKey(0)

    depth, _ = box_scene(rng, args.size, args.size, num_boxes=2)
    obs = {"observation/depth": jnp.asarray(depth)[None, ..., None],
           "observation/rgb": jnp.asarray(rng.integers(0, 255, (1, args.size, args.size, 3)), jnp.uint8)}
    for name, cfg in [("ggcnn2", GraspMapConfig()), ("grconvnet", GraspMapConfig(arch="grconvnet")),
                      ("grconvnet_rgbd", GraspMapConfig(arch="grconvnet", use_rgb=True))]:
        model = GraspMapModel(cfg)
        params = model.init(key, obs)
        out["params"][name] = n_params(params)
        out[f"{name}_ms"] = median_ms(jax.jit(model.predict), params, obs, reps=args.reps)
        if name == "ggcnn2":
            decode = jax.jit(lambda p, o, m=model: m.predict_grasps(p, o, k=5))
            out["ggcnn2_with_decode_ms"] = median_ms(decode, params, obs, reps=args.reps)

    cand = GraspCandidateModel(GraspCandidateConfig())
    cobs = {"observation/depth": obs["observation/depth"], "grasp/center": jnp.array([[32.0, 32.0]]),
            "grasp/angle": jnp.array([0.3]), "grasp/depth": jnp.array([0.55])}
    cparams = cand.init(key, cobs)
    out["params"]["gqcnn"] = n_params(cparams)
    out["gqcnn_ms"] = median_ms(jax.jit(cand.predict), cparams, cobs, reps=args.reps)

    @jax.jit
    def plan(p, d, k):
        g, z = sample_antipodal(k, d, 64, num_edge_points=128, max_width=40.0)
        return cross_entropy_method(k, cand.score_fn(p, d), g, z, iterations=3, num_elite=8)

    out["gqcnn_cem_ms"] = median_ms(plan, cparams, jnp.asarray(depth), key, reps=max(args.reps // 4, 10))

    sobs = {"observation/image": jnp.zeros((1, 32, 32, 3), jnp.uint8),
            "observation/goal_image": jnp.zeros((1, 32, 32, 3), jnp.uint8)}
    servo = ServoModel(ServoConfig())
    sparams = servo.init(key, sobs)
    out["params"]["servo"] = n_params(sparams)
    out["servo_ms"] = median_ms(jax.jit(servo.predict), sparams, sobs, reps=args.reps)

    from jaxrobot.config import load_experiment

    pose = PoseModel(load_experiment("experiments/pose_objects.py").model)
    pobs = {"observation/rgb": jnp.zeros((1, 64, 64, 3), jnp.uint8),
            "observation/depth": jnp.full((1, 64, 64, 1), 0.6, jnp.float32),
            "observation/intrinsics": cam_lib.camera_from_fovy(45.0, 64, 64).K[None]}
    pparams = pose.init(key, pobs)
    out["params"]["pose"] = n_params(pparams)
    out["pose_ms"] = median_ms(jax.jit(pose.predict), pparams, pobs, reps=args.reps)

    pts = jnp.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], jnp.float32) * 0.05
    goal = cam_lib.look_at((0.0, 0.0, 0.5), (0.0, 0.0, 0.0), up=(0.0, 1.0, 0.0))
    start = goal @ se3_exp(jnp.array([0.03, -0.02, 0.1, 0.1, -0.05, 0.3]))
    s_star, z_star = project_normalized(goal, pts)
    s, z = project_normalized(start, pts)
    law = jax.jit(lambda s, z: ibvs_velocity(s, s_star, z, z_star, 0.5, "current")[0])
    jax.block_until_ready(law(s, z))
    n = 2000
    t0 = time.perf_counter()
    for _ in range(n):
        v = law(s, z)
    jax.block_until_ready(v)
    out["ibvs_law_hz"] = n / (time.perf_counter() - t0)
    steps = 2000
    sim = jax.jit(lambda T: simulate_ibvs(T, pts, goal, 0.5, 0.02, steps, "current"))
    jax.block_until_ready(sim(start))
    t0 = time.perf_counter()
    _, errs, _ = jax.block_until_ready(sim(start))
    out["ibvs_sim_steps_per_s"] = steps / (time.perf_counter() - t0)
    out["ibvs_final_error"] = float(errs[-1])
    print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in out.items()}))


if __name__ == "__main__":
    main()
