"""LeRobot side of the checkpoint-import tests: LeRobot 0.4.4 builds, saves and runs ACT / Diffusion Policy.

Runs in the peers venv (``make .venv-peers/.installed``) and never imports jaxrobot:

    .venv-peers/bin/python tests/interop/lerobot_side.py SPEC.json OUT_DIR      # one policy (the peers tests)
    .venv-peers/bin/python tests/interop/lerobot_side.py --testdata [DIR]       # the fixtures of tests/testdata

For each spec it builds the policy with LeRobot's own classes (random init from ``seed``), makes its pre/post
processors from random dataset statistics (``make_pre_post_processors``), saves everything with
``save_pretrained`` into ``OUT_DIR/checkpoint/`` (``"format": "legacy"`` instead keeps the statistics in
``model.safetensors`` as LeRobot < 0.4 did, with its ``normalize_inputs.buffer_*`` names, and no processors), and
writes ``OUT_DIR/reference.npz``, what LeRobot computes on seeded inputs:

- ``obs.<key>``: one raw observation frame per batch element (state float32, images uint8 ``[B, H, W, 3]``);
  ``first_action``: ``preprocessor -> select_action -> postprocessor`` on that frame (a fresh episode);
- ACT: ``chunk``: the normalised action chunk ``predict_action_chunk`` returns for the preprocessed frame
  (temporal ensembling off);
- Diffusion Policy: ``hist.<key>``: ``n_obs_steps`` distinct raw frames; ``x_t``, ``t`` and ``eps``: the UNet's
  output for a noisy sample and timesteps, conditioned on those frames; ``noise``, ``step_noise`` and ``sample``:
  the full sampling loop (DDPM or DDIM, as configured) from that initial noise (DDPM's per-step noise
  recorded, zeros where LeRobot draws none); ``select_noise`` / ``select_step_noise``: the noise
  ``select_action`` used for ``first_action``.
"""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np

TESTDATA_SPECS = [
    # A camera means torchvision's full ResNet-18 (11 M weights): the tiny fixtures use the environment state.
    {"name": "act_env_state", "policy": "act", "state_dim": 3, "env_dim": 4, "action_dim": 2, "seed": 1,
     "config": {"dim_model": 16, "n_heads": 2, "dim_feedforward": 32, "n_encoder_layers": 2, "n_decoder_layers": 1,
                "n_vae_encoder_layers": 1, "latent_dim": 4, "chunk_size": 6, "n_action_steps": 6}},
    {"name": "act_legacy_pre_norm", "policy": "act", "state_dim": 3, "env_dim": 4, "action_dim": 2, "seed": 2,
     "format": "legacy",
     "config": {"dim_model": 16, "n_heads": 4, "dim_feedforward": 24, "n_encoder_layers": 1, "n_decoder_layers": 2,
                "n_vae_encoder_layers": 1, "latent_dim": 4, "chunk_size": 5, "n_action_steps": 3, "pre_norm": True}},
    {"name": "dp_env_state_ddpm", "policy": "diffusion", "state_dim": 3, "env_dim": 4, "action_dim": 2, "seed": 3,
     "config": {"horizon": 8, "n_obs_steps": 2, "n_action_steps": 4, "down_dims": [8, 16], "kernel_size": 3,
                "diffusion_step_embed_dim": 8, "num_inference_steps": 20}},
    {"name": "dp_env_state_ddim", "policy": "diffusion", "state_dim": 3, "env_dim": 4, "action_dim": 2, "seed": 4,
     "config": {"horizon": 8, "n_obs_steps": 3, "n_action_steps": 3, "down_dims": [8, 16], "kernel_size": 5,
                "diffusion_step_embed_dim": 8, "noise_scheduler_type": "DDIM", "num_inference_steps": 10,
                "prediction_type": "sample", "beta_schedule": "linear", "use_film_scale_modulation": False}},
    # torch's exact (erf) GELU in the feed-forward layers.
    {"name": "act_gelu", "policy": "act", "state_dim": 3, "env_dim": 4, "action_dim": 2, "seed": 5,
     "config": {"dim_model": 16, "n_heads": 2, "dim_feedforward": 32, "n_encoder_layers": 2, "n_decoder_layers": 1,
                "n_vae_encoder_layers": 1, "latent_dim": 4, "chunk_size": 6, "n_action_steps": 6,
                "feedforward_activation": "gelu"}},
    # 4 GroupNorm groups in the residual blocks; LeRobot's final convolution block keeps its default 8.
    {"name": "dp_n_groups_4", "policy": "diffusion", "state_dim": 3, "env_dim": 4, "action_dim": 2, "seed": 6,
     "config": {"horizon": 8, "n_obs_steps": 2, "n_action_steps": 4, "down_dims": [8, 16], "kernel_size": 3,
                "n_groups": 4, "diffusion_step_embed_dim": 8, "noise_scheduler_type": "DDIM",
                "num_inference_steps": 10}},
]


def _torch():
    import torch

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))
    from peers_lerobot import _allow_torchvision_without_ops

    _allow_torchvision_without_ops(torch)
    torch.set_num_threads(2)
    return torch


def _features(spec: dict):
    from lerobot.configs.types import FeatureType, PolicyFeature

    inputs = {"observation.state": PolicyFeature(type=FeatureType.STATE, shape=(spec["state_dim"],))}
    for cam, (h, w) in spec.get("cameras", {}).items():
        inputs[f"observation.images.{cam}"] = PolicyFeature(type=FeatureType.VISUAL, shape=(3, h, w))
    if spec.get("env_dim"):
        inputs["observation.environment_state"] = PolicyFeature(type=FeatureType.ENV, shape=(spec["env_dim"],))
    outputs = {"action": PolicyFeature(type=FeatureType.ACTION, shape=(spec["action_dim"],))}
    return inputs, outputs


def _stats(spec: dict, inputs, rng: np.random.Generator) -> dict | None:
    """Random dataset statistics for every normalised feature ("stats": "random"), ImageNet ones for the cameras
    ("imagenet"), or none at all ("none": LeRobot then leaves every feature as it is)."""
    import torch

    kind = spec.get("stats", "random")
    if kind == "none":
        return None
    out = {}
    for key, dim in (("observation.state", spec["state_dim"]), ("action", spec["action_dim"])):
        mean = rng.normal(0, 0.5, dim)
        std = rng.uniform(0.5, 2.0, dim)
        lo, hi = mean - 2 * std - rng.uniform(0, 1, dim), mean + 2 * std + rng.uniform(0, 1, dim)
        out[key] = {"mean": mean, "std": std, "min": lo, "max": hi,
                    "q01": lo + 0.1 * std, "q99": hi - 0.1 * std, "q10": lo + 0.5 * std, "q90": hi - 0.5 * std}
    for key in inputs:
        if key.startswith("observation.images."):
            if kind == "imagenet":
                mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
            else:
                mean, std = rng.uniform(0.3, 0.6, 3), rng.uniform(0.15, 0.3, 3)
            out[key] = {"mean": mean.reshape(3, 1, 1), "std": std.reshape(3, 1, 1),
                        "min": np.zeros((3, 1, 1)), "max": np.ones((3, 1, 1))}
    return {k: {s: torch.tensor(v, dtype=torch.float32) for s, v in d.items()} for k, d in out.items()}


def build(spec: dict):
    """(policy, preprocessor, postprocessor, dataset stats) for a spec, with LeRobot's own classes."""
    torch = _torch()
    from lerobot.policies.factory import make_pre_post_processors

    inputs, outputs = _features(spec)
    common = dict(input_features=inputs, output_features=outputs, device="cpu", push_to_hub=False)
    model = dict(spec.get("config", {}))
    if "normalization_mapping" in model:
        from lerobot.configs.types import NormalizationMode

        model["normalization_mapping"] = {k: NormalizationMode(v) for k, v in model["normalization_mapping"].items()}
    torch.manual_seed(spec.get("seed", 0))
    if spec["policy"] == "act":
        from lerobot.policies.act.configuration_act import ACTConfig
        from lerobot.policies.act.modeling_act import ACTPolicy

        config = ACTConfig(pretrained_backbone_weights=None, **model, **common)
        policy = ACTPolicy(config)
    else:
        from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig
        from lerobot.policies.diffusion.modeling_diffusion import DiffusionPolicy

        for k in ("down_dims", "crop_shape"):
            if model.get(k) is not None:
                model[k] = tuple(model[k])
        config = DiffusionConfig(**model, **common)
        policy = DiffusionPolicy(config)
        if config.use_group_norm is False:  # BatchNorm: give its running statistics non-trivial values
            for mod in policy.modules():
                if isinstance(mod, torch.nn.BatchNorm2d):
                    mod.running_mean.uniform_(-0.2, 0.2)
                    mod.running_var.uniform_(0.5, 2.0)
    policy.eval()
    rng = np.random.default_rng(spec.get("seed", 0) + 1000)
    stats = _stats(spec, inputs, rng)
    pre, post = make_pre_post_processors(config, dataset_stats=stats)
    return policy, pre, post, stats


def save(policy, pre, post, stats, spec: dict, out: pathlib.Path) -> None:
    """``save_pretrained`` (policy and both processors), or the LeRobot < 0.4 layout for ``"format": "legacy"``."""
    out.mkdir(parents=True, exist_ok=True)
    policy.save_pretrained(out)
    if spec.get("format", "processors") != "legacy":
        pre.save_pretrained(out)
        post.save_pretrained(out)
        return
    from safetensors.torch import load_file, save_file

    tensors = load_file(out / "model.safetensors")
    modes = {getattr(ft, "value", ft): getattr(mode, "value", mode)
             for ft, mode in policy.config.normalization_mapping.items()}
    names = {"MEAN_STD": ("mean", "std"), "MIN_MAX": ("min", "max")}

    def add(prefix: str, key: str, kind: str) -> None:
        mode = modes.get(kind, "IDENTITY")
        if mode == "IDENTITY" or stats is None or key not in stats:
            return
        for stat in names[mode]:
            tensors[f"{prefix}.buffer_{key.replace('.', '_')}.{stat}"] = stats[key][stat].clone()

    for key, ft in policy.config.input_features.items():
        add("normalize_inputs", key, ft.type.value)
    add("normalize_targets", "action", "ACTION")
    add("unnormalize_outputs", "action", "ACTION")
    save_file(tensors, out / "model.safetensors")


def _frame(spec: dict, stats, rng: np.random.Generator, lead: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Raw observations (the robot's units): state near the dataset statistics, random uint8 images."""
    frame = {}
    s = spec["state_dim"]
    if stats is not None:
        mean, std = stats["observation.state"]["mean"].numpy(), stats["observation.state"]["std"].numpy()
    else:
        mean, std = np.zeros(s), np.ones(s)
    frame["observation.state"] = (mean + std * rng.standard_normal((*lead, s))).astype(np.float32)
    if spec.get("env_dim"):
        frame["observation.environment_state"] = rng.standard_normal((*lead, spec["env_dim"])).astype(np.float32)
    for cam, (h, w) in spec.get("cameras", {}).items():
        frame[f"observation.images.{cam}"] = rng.integers(0, 256, (*lead, h, w, 3), dtype=np.uint8)
    return frame


def _to_torch(frame: dict[str, np.ndarray]) -> dict:
    """LeRobot's inputs: float images in [0, 1], channels first."""
    import torch

    out = {}
    for k, v in frame.items():
        t = torch.from_numpy(np.ascontiguousarray(v))
        if k.startswith("observation.images."):
            t = t.movedim(-1, -3).float() / 255.0
        out[k] = t
    return out


class _RecordNoise:
    """Record the per-step noise diffusers' DDPM scheduler draws (its ``randn_tensor``)."""

    def __enter__(self):
        import diffusers.schedulers.scheduling_ddpm as ddpm

        self.module, self.original, self.drawn = ddpm, ddpm.randn_tensor, []

        def record(*args, **kwargs):
            value = self.original(*args, **kwargs)
            self.drawn.append(value.clone())
            return value

        ddpm.randn_tensor = record
        return self

    def __exit__(self, *exc):
        self.module.randn_tensor = self.original

    def steps(self, n_steps: int, shape) -> np.ndarray:
        """[n_steps, *shape]: the recorded draws, zeros for the steps without one (t = 0)."""
        out = np.zeros((n_steps, *shape), np.float32)
        for i, v in enumerate(self.drawn):
            out[i] = v.numpy()
        return out


def reference(policy, pre, post, stats, spec: dict) -> dict[str, np.ndarray]:
    """What LeRobot computes on seeded inputs (see the module docstring)."""
    import torch

    b = int(spec.get("batch", 2))
    rng = np.random.default_rng(spec.get("seed", 0) + 2000)
    out: dict[str, np.ndarray] = {}
    frame = _frame(spec, stats, rng, (b,))
    out.update({f"obs.{k}": v for k, v in frame.items()})
    a = spec["action_dim"]
    with torch.no_grad():
        if spec["policy"] == "act":
            out["chunk"] = policy.predict_action_chunk(pre(_to_torch(frame))).numpy()
            policy.reset()
            out["first_action"] = post(policy.select_action(pre(_to_torch(frame)))).numpy()
            return out

        cfg, model = policy.config, policy.diffusion
        t_obs, horizon = cfg.n_obs_steps, cfg.horizon
        hist = _frame(spec, stats, rng, (b, t_obs))
        out.update({f"hist.{k}": v for k, v in hist.items()})
        batch = pre(_to_torch(hist))
        if cfg.image_features:
            batch["observation.images"] = torch.stack([batch[k] for k in cfg.image_features], dim=-4)
        cond = model._prepare_global_conditioning(batch)
        x_t = torch.from_numpy(rng.standard_normal((b, horizon, a)).astype(np.float32))
        t = torch.from_numpy(rng.integers(0, cfg.num_train_timesteps, b)).long()
        out["x_t"], out["t"] = x_t.numpy(), t.numpy().astype(np.int32)
        out["eps"] = model.unet(x_t, t, global_cond=cond).numpy()

        n_steps = model.num_inference_steps
        noise = torch.from_numpy(rng.standard_normal((b, horizon, a)).astype(np.float32))
        with _RecordNoise() as rec:
            out["sample"] = model.conditional_sample(b, global_cond=cond, noise=noise).numpy()
        out["noise"], out["step_noise"] = noise.numpy(), rec.steps(n_steps, (b, horizon, a))

        policy.reset()
        select_noise = torch.from_numpy(rng.standard_normal((b, horizon, a)).astype(np.float32))
        with _RecordNoise() as rec:
            out["first_action"] = post(policy.select_action(pre(_to_torch(frame)), noise=select_noise)).numpy()
        out["select_noise"], out["select_step_noise"] = select_noise.numpy(), rec.steps(n_steps, (b, horizon, a))
    return out


def make(spec: dict, out: pathlib.Path) -> None:
    """``out/checkpoint/`` (the LeRobot folder) and ``out/reference.npz``."""
    policy, pre, post, stats = build(spec)
    save(policy, pre, post, stats, spec, out / "checkpoint")
    np.savez(out / "reference.npz", **reference(policy, pre, post, stats, spec))
    (out / "spec.json").write_text(json.dumps(spec, indent=1, sort_keys=True) + "\n")


def main(argv: list[str]) -> None:
    if argv and argv[0] == "--testdata":
        root = pathlib.Path(argv[1] if len(argv) > 1 else pathlib.Path(__file__).resolve().parents[1] / "testdata"
                            / "lerobot_policies")
        for spec in TESTDATA_SPECS:
            make(spec, root / spec["name"])
            print(f"wrote {root / spec['name']}")
        return
    if len(argv) != 2:
        raise SystemExit(__doc__)
    make(json.loads(pathlib.Path(argv[0]).read_text()), pathlib.Path(argv[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
