"""The policy at run time, outside JAX: raw observations in, raw actions out, one control step at a time.

Written independently of jaxrobot but to the same contract as ``jaxrobot.policies.runner.PolicyRunner``
(tests check them action for action on recorded observation sequences):

1. an observation history of ``n_obs_steps`` frames per key, the first frame repeated at an episode start;
2. ``state`` assembled from observation slices when the bundle says so (``state_slices``, e.g. the
   proprioceptive part only), normalised with the training statistics (zero-padded to ``state_dim``);
3. a plan: the exported ``policy`` graph gives a normalised chunk ``[B, horizon, A]``; for Diffusion Policy
   ``encode`` gives the conditioning, then ``denoise_step`` runs once per DDIM timestep from Gaussian noise;
   the chunk is unnormalised;
4. an action-chunk queue (execute ``n_action_steps`` actions from ``action_offset``, then re-plan) or, when
   the bundle sets ``temporal_ensemble_coeff``, ACT's temporal ensembling: re-plan every step and average
   every prediction made for the current step with weights ``exp(-m i)``, ``i = 0`` the oldest;
5. an RL fine-tuned bundle (``runtime["residual"]``, from ``jaxrobot rl finetune``) then corrects that action:
   ``residual([raw state, action]) -> (mean, std)``, ``u = mean + std * eps`` (``eps`` from a seeded standard
   normal; ``u = mean`` when the bundle's ``sample`` is false or ``sample_residual=False``), and the action is
   ``clip(action + clip(u, -1, 1) * scale, low, high)``.
"""

from __future__ import annotations

from typing import Callable, Sequence, Tuple  # noqa: UP035 (runs on Python 3.8, JetPack 5)

import numpy as np

from jaxrobot_runtime.bundle import Bundle, BundleError
from jaxrobot_runtime.normalize import normalize, unnormalize


class TemporalEnsembler:
    """Online weighted average of overlapping chunks (Zhao et al. 2023, ACT).

    Slot ``k`` holds the running weighted mean of all predictions made so far for the step ``k`` ahead and
    their count ``n``. A new prediction for a slot with ``n`` earlier ones has weight ``exp(-m n)``, so the
    mean updates as ``(mean * S(n) + new * exp(-m n)) / S(n + 1)`` with ``S(n) = sum_{i<n} exp(-m i)``.
    """

    def __init__(self, coeff: float, horizon: int):
        self.m, self.horizon = float(coeff), int(horizon)
        self.reset()

    def reset(self) -> None:
        self.mean: np.ndarray | None = None
        self.n: np.ndarray | None = None

    def _s(self, n: np.ndarray) -> np.ndarray:
        if self.m == 0:
            return n.astype(np.float64)
        q = np.exp(-self.m)
        return (1.0 - q ** n) / (1.0 - q)

    def update(self, chunk: np.ndarray) -> np.ndarray:
        """Add the chunk ``[B, H, A]`` planned now; return the action ``[B, A]`` for this step."""
        chunk = np.asarray(chunk, np.float64)
        if self.mean is None:
            self.mean, self.n = chunk.copy(), np.ones(self.horizon, np.int64)
        else:
            n = self.n
            w_new = np.exp(-self.m * n)[None, :, None]
            self.mean = (self.mean * self._s(n)[None, :, None] + chunk * w_new) / self._s(n + 1)[None, :, None]
            self.n = n + 1
        action = self.mean[:, 0].astype(np.float32)
        self.mean = np.concatenate([self.mean[:, 1:], np.zeros_like(self.mean[:, :1])], axis=1)
        self.n = np.concatenate([self.n[1:], np.zeros(1, np.int64)])
        return action


NoiseFn = Callable[[Tuple[int, ...]], np.ndarray]  # noqa: UP006 (Python 3.8)


class Policy:
    """Stateful policy over a bundle; call :meth:`reset` between episodes.

    ``backend``: ``"onnx"`` or ``"tflite"``; ``precision``: the artifact to run (ONNX is fp32; TFLite fp32,
    fp16, int8 or int8_full). ``providers``: ONNX Runtime execution providers (e.g.
    ``["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]`` on a Jetson).
    ``noise``: Diffusion Policy's initial-noise source ``shape -> float32 array`` (default: a seeded numpy
    Generator's standard normal). For an RL fine-tuned bundle, ``sample_residual`` (default: the bundle's choice,
    what its success rate was measured with) samples the residual with ``residual_noise`` (default: a second
    seeded Generator). A bundle given as a path is opened with ``verify`` (default True: every
    file checked against ``MANIFEST.json``, :class:`~jaxrobot_runtime.BundleIntegrityError` if one differs);
    a :class:`Bundle` is used as opened (``load_bundle(path)`` verifies by default too).
    """

    def __init__(self, bundle: Bundle | str, backend: str = "onnx", precision: str = "fp32", *,
                 providers: Sequence[str] | None = None, threads: int | None = None, seed: int = 0,
                 noise: NoiseFn | None = None, verify: bool = True, sample_residual: bool | None = None,
                 residual_noise: NoiseFn | None = None):
        self.bundle = bundle if isinstance(bundle, Bundle) else Bundle(bundle, verify=verify)
        rt = self.bundle.runtime
        self.kind = rt["kind"]
        if self.kind not in ("chunk_policy", "diffusion_policy"):
            raise BundleError(f"bundle kind {self.kind!r} is not a policy; run its functions with Bundle.runner")
        self.backend, self.precision = backend, precision
        self.providers, self.threads = providers, threads
        self.n_obs_steps, self.horizon = int(rt["n_obs_steps"]), int(rt["horizon"])
        self.n_action_steps, self.offset = int(rt["n_action_steps"]), int(rt.get("action_offset", 0))
        self.state_dim = rt.get("state_dim")
        self.state_slices = rt.get("state_slices")  # [[obs name, lo, hi], ...]: how training built ``state``
        self.mode = self.bundle.stats.get("mode", rt.get("normalization", "mean_std"))
        coeff = rt.get("temporal_ensemble_coeff")
        self.ensembler = TemporalEnsembler(coeff, self.horizon) if coeff is not None else None
        first = "policy" if self.kind == "chunk_policy" else "encode"
        self.obs_names = [s["name"] for s in self.bundle.functions[first]["inputs"]]
        if noise is None:
            gen = np.random.default_rng(seed)
            noise = lambda shape: gen.standard_normal(shape, dtype=np.float32)  # noqa: E731
        self.noise = noise
        self.residual = rt.get("residual")
        if self.residual is not None:
            res = self.residual
            self.res_scale, self.res_low, self.res_high = (np.asarray(res[k], np.float32)
                                                           for k in ("scale", "low", "high"))
            self.sample_residual = bool(res.get("sample", False)) if sample_residual is None else bool(sample_residual)
            if residual_noise is None:
                res_gen = np.random.default_rng([seed, 1])
                residual_noise = lambda shape: res_gen.standard_normal(shape, dtype=np.float32)  # noqa: E731
            self.residual_noise = residual_noise
        self.plans = 0
        self.reset()

    def reset(self) -> None:
        """Forget history, queued actions and ensembles (the batch size may change after this)."""
        self.history: dict[str, list[np.ndarray]] = {}
        self.queue: list[np.ndarray] = []
        self.steps = 0
        if self.ensembler is not None:
            self.ensembler.reset()

    def _run(self, function: str, inputs: dict[str, np.ndarray], batch: int) -> dict[str, np.ndarray]:
        # a function the bundle offers in fp32 only (the RL residual) runs in fp32 at any requested precision
        precision = "fp32" if self.bundle.functions[function].get("fp32_only") else self.precision
        runner = self.bundle.runner(function, self.backend, precision, batch, self.providers, self.threads)
        return runner(inputs)

    def observe(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Push one step of raw observations; return the model inputs ``{name: [B, n_obs_steps, ...]}``."""
        if self.state_slices:
            absent = sorted({n for n, _, _ in self.state_slices} - set(obs))
            if absent:
                raise BundleError(f"observation lacks {absent} (the policy builds its state from them)")
            obs = dict(obs)
            obs["state"] = np.concatenate([np.asarray(obs[n])[..., lo:hi] for n, lo, hi in self.state_slices],
                                          axis=-1)
        missing = [n for n in self.obs_names if n not in obs]
        if missing:
            raise BundleError(f"observation lacks {missing} (the model reads {self.obs_names})")
        inputs = {}
        for key in self.obs_names:
            value = np.asarray(obs[key])
            if key == "state":
                value = normalize(value.astype(np.float32), self.bundle.stats["state"], self.mode).astype(np.float32)
                if self.state_dim is not None and value.shape[-1] < self.state_dim:
                    pad = [(0, 0)] * (value.ndim - 1) + [(0, self.state_dim - value.shape[-1])]
                    value = np.pad(value, pad)
            hist = self.history.setdefault(key, [value] * self.n_obs_steps)
            hist.append(value)
            del hist[0]
            inputs[key] = np.stack(hist, axis=1)
        return inputs

    def plan(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """One model plan: the unnormalised chunk ``[B, horizon, A]``."""
        batch = next(iter(inputs.values())).shape[0]
        if self.kind == "chunk_policy":
            chunk = self._run("policy", inputs, batch)["action"]
        else:
            sched = self.bundle.schedule
            cond = self._run("encode", inputs, batch)["conditioning"]
            x = np.asarray(self.noise((batch, *sched["noise_shape"])), np.float32)
            ratio = int(sched["step_ratio"])
            for t in sched["timesteps"]:
                x = self._run("denoise_step", {"x": x, "t": np.asarray(t, np.int32),
                                               "t_prev": np.asarray(t - ratio, np.int32), "conditioning": cond},
                              batch)["x_prev"]
            chunk = x
        self.plans += 1
        return np.asarray(unnormalize(np.asarray(chunk, np.float32), self.bundle.stats["action"], self.mode),
                          np.float32)

    def __call__(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """The action ``[B, A]`` for this step's raw observations ``{"state": [B, S], "image_<cam>": ...}``."""
        inputs = self.observe(obs)
        self.steps += 1
        if self.ensembler is not None:
            action = self.ensembler.update(self.plan(inputs))
        else:
            if not self.queue:
                chunk = self.plan(inputs)
                self.queue = [chunk[:, self.offset + i] for i in range(self.n_action_steps)]
            action = self.queue.pop(0)
        if self.residual is None:
            return action
        if "state" not in obs:
            raise BundleError(f"observation lacks 'state': the RL residual reads the task's full "
                              f"{self.residual['state_dim']}-value state ({self.residual.get('task')})")
        return self.correct(np.asarray(obs["state"], np.float32), action)

    def correct(self, state: np.ndarray, action: np.ndarray) -> np.ndarray:
        """The RL residual's correction of the base ``action [B, A]`` for the raw ``state [B, S]``."""
        want = int(self.residual["state_dim"])
        if state.shape[-1] != want:
            raise BundleError(f"observation 'state' has {state.shape[-1]} values; the residual was trained on the "
                              f"task's {want}-value state ({self.residual.get('task')})")
        x = np.concatenate([state, np.asarray(action, np.float32)], axis=-1)
        out = self._run("residual", {"residual_obs": x}, x.shape[0])
        u = np.asarray(out["mean"], np.float32)
        if self.sample_residual:
            u = u + np.asarray(out["std"], np.float32) * np.asarray(self.residual_noise(u.shape), np.float32)
        return np.clip(action + np.clip(u, -1.0, 1.0) * self.res_scale, self.res_low, self.res_high).astype(np.float32)
