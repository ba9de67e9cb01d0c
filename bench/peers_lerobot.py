"""LeRobot side of ``bench/peers.py``: LeRobot 0.4.4's ACT or Diffusion Policy train step in PyTorch.

Runs inside the peers venv (``.venv-peers``, made by ``make bench-peers``), never imports jaxrobot:

    .venv-peers/bin/python bench/peers_lerobot.py '{"policy": "act", "batch": 8, ...}'
    .venv-peers/bin/python bench/peers_lerobot.py --check     # the install works

The driver passes one JSON config (policy, model fields, shapes, seed, threads). The worker builds the
policy, prints one JSON line ``{"ready": true, "params": N, "first_step_s": s, ...}`` after one training
step, then serves commands read one per line from stdin: ``run N`` times N steps and prints
``{"steps": N, "seconds": s}``; ``quit`` (or end of input) exits. The step is what LeRobot's
``scripts/lerobot_train.py::update_policy`` does on CPU without AMP: ``policy.forward`` → ``backward`` →
``clip_grad_norm_`` (the preset's 10) → ``optimizer.step`` → ``zero_grad`` → ``lr_scheduler.step``, with the
policy's own optimiser and scheduler presets (ACT: AdamW over ``get_optim_params`` groups; Diffusion
Policy: Adam with a diffusers cosine schedule). Data loading and the pre-processor (normalisation) are left
out, as on our side.
"""

from __future__ import annotations

import json
import sys
import time


def _allow_torchvision_without_ops(torch) -> None:
    """Let the CUDA-built torchvision import against CPU torch.

    Its C++ ops fail to load (``_has_ops()`` is False, which torchvision tolerates), but
    ``torchvision/_meta_registrations.py`` registers fake kernels for ``torchvision::nms`` / ``qnms``
    unconditionally, which raises "operator torchvision::nms does not exist". Defining the two schemas
    (no kernels) first makes that registration succeed; ACT and Diffusion Policy never call them.
    """
    try:
        torch.ops.torchvision.nms  # noqa: B018  (raises when the op is unknown)
        return
    except (AttributeError, RuntimeError):
        pass
    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _allow_torchvision_without_ops.lib = lib  # keep the library (and its definitions) alive


def synthetic_arrays(cfg: dict):
    """The shared synthetic inputs; ``bench/peers.py`` makes the same arrays from the same seed.

    Returns numpy arrays: state [B, T, S] f32, image [B, T, H, W, 3] uint8, action [B, horizon, A] f32,
    action_is_pad [B, horizon] bool (the last ``pad`` steps padded), with T = n_obs_steps.
    """
    import numpy as np

    rng = np.random.default_rng(cfg["seed"])
    b, t, h = cfg["batch"], cfg["n_obs_steps"], cfg["horizon"]
    state = rng.standard_normal((b, t, cfg["state_dim"]), dtype=np.float32)
    image = rng.integers(0, 256, (b, t, cfg["image_size"], cfg["image_size"], 3), dtype=np.uint8)
    action = rng.standard_normal((b, h, cfg["action_dim"]), dtype=np.float32)
    is_pad = np.zeros((b, h), bool)
    is_pad[:, h - cfg["pad"] :] = True
    return state, image, action, is_pad


def _features(cfg: dict):
    from lerobot.configs.types import FeatureType, PolicyFeature

    s = cfg["image_size"]
    inputs = {
        "observation.state": PolicyFeature(type=FeatureType.STATE, shape=(cfg["state_dim"],)),
        "observation.images.main": PolicyFeature(type=FeatureType.VISUAL, shape=(3, s, s)),
    }
    outputs = {"action": PolicyFeature(type=FeatureType.ACTION, shape=(cfg["action_dim"],))}
    return inputs, outputs


def build(cfg: dict):
    """(policy, optimizer, scheduler or None, grad_clip_norm, batch of torch tensors)."""
    import torch

    _allow_torchvision_without_ops(torch)
    inputs, outputs = _features(cfg)
    common = dict(input_features=inputs, output_features=outputs, device="cpu", push_to_hub=False)
    if cfg["policy"] == "act":
        from lerobot.policies.act.configuration_act import ACTConfig
        from lerobot.policies.act.modeling_act import ACTPolicy

        # No ImageNet download: the benchmark measures speed, not a pretrained start.
        config = ACTConfig(pretrained_backbone_weights=None, **cfg["model"], **common)
        policy = ACTPolicy(config)
    elif cfg["policy"] == "diffusion":
        from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig
        from lerobot.policies.diffusion.modeling_diffusion import DiffusionPolicy

        model = dict(cfg["model"])
        if model.get("crop_shape") is not None:
            model["crop_shape"] = tuple(model["crop_shape"])
        model["down_dims"] = tuple(model["down_dims"])
        config = DiffusionConfig(**model, **common)
        policy = DiffusionPolicy(config)
    else:
        raise SystemExit(f"unknown policy {cfg['policy']!r}")
    policy.to("cpu").train()

    opt_cfg = config.get_optimizer_preset()
    optimizer = opt_cfg.build(policy.get_optim_params())
    sched_cfg = config.get_scheduler_preset()
    scheduler = None
    if sched_cfg is not None:
        scheduler = sched_cfg.build(optimizer, cfg["total_steps"])
        scheduler.recipe = f"{sched_cfg.name} schedule ({sched_cfg.num_warmup_steps} warm-up steps)"

    state, image, action, is_pad = synthetic_arrays(cfg)
    # LeRobot datasets give float images in [0, 1], channels first.
    img = torch.from_numpy(image).permute(0, 1, 4, 2, 3).float() / 255.0
    st = torch.from_numpy(state)
    if cfg["policy"] == "act":  # ACT conditions on one frame: [B, S] and [B, 3, H, W]
        st, img = st[:, -1], img[:, -1]
    batch = {
        "observation.state": st.contiguous(),
        "observation.images.main": img.contiguous(),
        "action": torch.from_numpy(action),
        "action_is_pad": torch.from_numpy(is_pad),
    }
    return policy, optimizer, scheduler, opt_cfg.grad_clip_norm, batch


def train_step(policy, optimizer, scheduler, grad_clip_norm, batch) -> float:
    """``update_policy`` without accelerate (CPU, no AMP: its autocast is a no-op there)."""
    import torch

    loss, _ = policy.forward(batch)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(policy.parameters(), grad_clip_norm, error_if_nonfinite=False)
    optimizer.step()
    optimizer.zero_grad()
    if scheduler is not None:
        scheduler.step()
    return float(loss.detach())


def check() -> None:
    """``--check``: the install works (CPU torch, both policy modules import)."""
    import torch

    _allow_torchvision_without_ops(torch)
    from lerobot.policies.act.modeling_act import ACTPolicy  # noqa: F401
    from lerobot.policies.diffusion.modeling_diffusion import DiffusionPolicy  # noqa: F401

    assert torch.version.cuda is None, f"torch {torch.__version__} is a CUDA build"
    print(f"lerobot peers venv ok: torch {torch.__version__}")


def main() -> None:
    if sys.argv[1:] == ["--check"]:
        return check()
    cfg = json.loads(sys.argv[1])
    import torch

    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(cfg["seed"])
    policy, optimizer, scheduler, clip, batch = build(cfg)
    params = sum(p.numel() for p in policy.parameters() if p.requires_grad)
    t0 = time.perf_counter()
    loss = train_step(policy, optimizer, scheduler, clip, batch)
    first = time.perf_counter() - t0
    group = optimizer.param_groups[0]  # "initial_lr": the peak, before the scheduler's warm-up scaled it
    recipe = (f"{type(optimizer).__name__} lr={group.get('initial_lr', group['lr']):g} "
              f"betas={tuple(group['betas'])} wd={group['weight_decay']:g} clip={clip:g}"
              + (f" + {scheduler.recipe}" if scheduler is not None else ""))
    print(json.dumps({"ready": True, "params": params, "first_step_s": first, "loss": loss,
                      "optimizer": recipe, "torch": torch.__version__, "threads": torch.get_num_threads()}),
          flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        n = int(cmd[1])
        t0 = time.perf_counter()
        for _ in range(n):
            loss = train_step(policy, optimizer, scheduler, clip, batch)
        print(json.dumps({"steps": n, "seconds": time.perf_counter() - t0, "loss": loss}), flush=True)


if __name__ == "__main__":
    main()
