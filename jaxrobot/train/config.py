"""Configs of the trainer: optimiser, mesh and sharding, the loop, and the experiment that ties them."""

from __future__ import annotations

import dataclasses
import re
from typing import ClassVar, Literal

from jaxrobot.config import Config, fail, require


@dataclasses.dataclass(frozen=True)
class OptimizerConfig(Config):
    """AdamW with warm-up + cosine decay, clipping, per-module learning rates.

    Fields:
      lr: peak learning rate.
      weight_decay: decoupled weight decay (AdamW); not applied to biases and norm scales.
      b1, b2, eps: Adam moments.
      warmup_steps: linear warm-up from 0 to ``lr``.
      schedule: "cosine" decays to ``lr * min_lr_ratio`` at ``train.steps``; "constant" stays at ``lr``.
      grad_clip: global-norm clipping threshold (0 disables).
      module_lrs: ``((regex over the param path, lr), ...)``: params whose '/'-joined path matches get
        their own peak lr (e.g. ACT's backbone at 1e-5); the first match wins.
    """

    kind: ClassVar[str] = "optimizer"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    warmup_steps: int = 0
    schedule: Literal["cosine", "constant"] = "cosine"
    min_lr_ratio: float = 0.0
    grad_clip: float = 1.0
    module_lrs: tuple[tuple[str, float], ...] = ()

    def check(self) -> None:
        require(self.lr > 0, "lr", f"must be > 0, got {self.lr}")
        require(self.weight_decay >= 0, "weight_decay", f"must be >= 0, got {self.weight_decay}")
        require(0 <= self.b1 < 1 and 0 <= self.b2 < 1, "b1", "Adam betas must be in [0, 1)")
        require(self.warmup_steps >= 0, "warmup_steps", "must be >= 0")
        require(0 <= self.min_lr_ratio <= 1, "min_lr_ratio", "must be in [0, 1]")
        require(self.grad_clip >= 0, "grad_clip", "must be >= 0 (0 disables clipping)")
        for i, (pattern, lr) in enumerate(self.module_lrs):
            try:
                re.compile(pattern)
            except re.error as e:
                fail(f"module_lrs[{i}]", f"bad regex {pattern!r}: {e}")
            require(lr > 0, f"module_lrs[{i}]", f"lr must be > 0, got {lr}")


@dataclasses.dataclass(frozen=True)
class MeshConfig(Config):
    """Device mesh with a ``data`` and an ``fsdp`` axis, and parameter sharding rules.

    Fields:
      data: devices along the data-parallel axis; -1 means "all devices / fsdp".
      fsdp: devices along the parameter-sharding axis (the batch is split over both axes).
      rules: ``((regex over the param path, spec), ...)``; spec is "fsdp" (shard the largest dimension
        divisible by the fsdp size), "replicate", or a comma list of axis names/None per dimension
        (e.g. "None,fsdp"). First match wins; unmatched params are replicated.
      min_fsdp_size: params with fewer elements than this stay replicated under the "fsdp" rule.
    """

    kind: ClassVar[str] = "mesh"
    data: int = -1
    fsdp: int = 1
    rules: tuple[tuple[str, str], ...] = ((".*", "fsdp"),)
    min_fsdp_size: int = 2**14

    def check(self) -> None:
        require(self.data == -1 or self.data >= 1, "data", f"must be -1 or >= 1, got {self.data}")
        require(self.fsdp >= 1, "fsdp", f"must be >= 1, got {self.fsdp}")
        for i, (pattern, spec) in enumerate(self.rules):
            try:
                re.compile(pattern)
            except re.error as e:
                fail(f"rules[{i}]", f"bad regex {pattern!r}: {e}")
            if spec not in ("fsdp", "replicate"):
                for axis in spec.split(","):
                    require(axis.strip() in ("data", "fsdp", "None", ""), f"rules[{i}]",
                            f"unknown mesh axis {axis!r} in {spec!r} (axes: data, fsdp, None)")


@dataclasses.dataclass(frozen=True)
class TrainConfig(Config):
    """The training loop.

    Fields:
      steps: optimiser updates in total.
      batch_size: global batch (all hosts, all devices) per update.
      grad_accum: micro-batches per update (the batch is split, gradients averaged; same update).
      seed: seeds params, dropout/noise RNG and the data order.
      log_every: fetch metrics from device and log every N steps (the only host sync).
      checkpoint_every: save every N steps (the final step is always saved).
      keep_checkpoints: how many recent checkpoints to keep.
      ema_decay: EMA of params; 0 disables. With ``ema_power`` > 0 the decay warms up as in
        Diffusion Policy's EMAModel: min(ema_decay, 1 - (1 + step)^-ema_power).
      compute_dtype: "bfloat16" runs forward/backward in bf16 with fp32 master weights.
      parallelism: "jit" (sharded jit over the mesh, primary) or "shard_map" (explicit data parallel).
      eval_every: closed-loop evaluation every N steps (0 = off; needs ``eval_task``).
      cpu_fusion_emitters: compile the train step (only it) with XLA:CPU's newer fusion emitters. The process
        keeps them off, which MJX needs (platform.py); the step's speed with them depends on the model: Diffusion
        Policy's default step is ~9% faster, ACT's 9-28% slower (bench/RESULTS.md, "Performance";
        ``bench/emitters.py`` measures an experiment both ways). CPU only.
    """

    kind: ClassVar[str] = "train"
    steps: int = 1000
    batch_size: int = 64
    grad_accum: int = 1
    seed: int = 0
    log_every: int = 50
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    ema_decay: float = 0.0
    ema_power: float = 0.0
    compute_dtype: Literal["float32", "bfloat16"] = "float32"
    parallelism: Literal["jit", "shard_map"] = "jit"
    eval_every: int = 0
    eval_task: str = ""
    eval_episodes: int = 50
    cpu_fusion_emitters: bool = False

    def check(self) -> None:
        require(self.steps >= 1, "steps", f"must be >= 1, got {self.steps}")
        require(self.batch_size >= 1, "batch_size", f"must be >= 1, got {self.batch_size}")
        require(self.grad_accum >= 1, "grad_accum", f"must be >= 1, got {self.grad_accum}")
        require(self.batch_size % self.grad_accum == 0, "grad_accum",
                f"batch_size {self.batch_size} is not divisible by grad_accum {self.grad_accum}")
        require(self.log_every >= 1, "log_every", f"must be >= 1, got {self.log_every}")
        require(self.checkpoint_every >= 1, "checkpoint_every", f"must be >= 1, got {self.checkpoint_every}")
        require(self.keep_checkpoints >= 1, "keep_checkpoints", "must be >= 1")
        require(0 <= self.ema_decay < 1, "ema_decay", f"must be in [0, 1), got {self.ema_decay}")
        require(self.ema_power >= 0, "ema_power", "must be >= 0")
        require(self.eval_every >= 0, "eval_every", "must be >= 0")
        require(self.eval_every == 0 or bool(self.eval_task), "eval_task", "set it when eval_every > 0")


@dataclasses.dataclass(frozen=True)
class ExperimentConfig(Config):
    """One experiment: a model, a dataset, and how to train it. Serialised into every checkpoint."""

    kind: ClassVar[str] = "experiment"
    name: str
    model: Config
    data: Config
    optimizer: OptimizerConfig = OptimizerConfig()
    train: TrainConfig = TrainConfig()
    mesh: MeshConfig = MeshConfig()
    description: str = ""

    def check(self) -> None:
        require(bool(self.name), "name", "must not be empty")
