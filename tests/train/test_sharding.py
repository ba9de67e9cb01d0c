"""The same update on 1, 2, 4, 8 devices, with FSDP, and through shard_map (8 fake CPU devices)."""

import jax
import numpy as np
import pytest

from jaxrobot import config as C
from jaxrobot.data.sources import make_source
from jaxrobot.data.sources.synthetic import SyntheticDataConfig
from jaxrobot.models.bc import BCConfig
from jaxrobot.models.registry import build_model
from jaxrobot.train.config import ExperimentConfig, MeshConfig, OptimizerConfig, TrainConfig
from jaxrobot.train.loop import _to_global
from jaxrobot.train.mesh import batch_sharding, make_mesh
from jaxrobot.train.optimizer import lr_schedule, make_optimizer
from jaxrobot.train.state import create_train_state
from jaxrobot.train.step import make_jit_step, make_shard_map_step

STEPS = 3


def experiment(horizon=4, **train):
    return C.validate(ExperimentConfig(
        name="t", model=BCConfig(action_dim=4, horizon=horizon, hidden=(64, 64)),
        data=SyntheticDataConfig(num_episodes=8, episode_length=20, image_size=16, horizon=horizon),
        optimizer=OptimizerConfig(lr=1e-2, warmup_steps=0, module_lrs=(("encoder", 1e-3),)),
        train=TrainConfig(steps=STEPS, batch_size=16, **train)))


def run(mesh_cfg: MeshConfig, n_devices: int, parallelism="jit", horizon=4, **train):
    cfg = experiment(horizon, **train)
    mesh = make_mesh(mesh_cfg, jax.devices()[:n_devices])
    model = build_model(cfg.model)
    tx = make_optimizer(cfg.optimizer, STEPS)
    schedule = lr_schedule(cfg.optimizer, cfg.optimizer.lr, STEPS)
    source = make_source(cfg.data, global_batch_size=16, seed=0)
    batches = [_to_global(next(source), batch_sharding(mesh)) for _ in range(STEPS)]
    state, shardings = create_train_state(model, tx, jax.random.PRNGKey(0), batches[0], mesh, mesh_cfg,
                                          ema=cfg.train.ema_decay > 0)
    if parallelism == "jit":
        step = make_jit_step(model, tx, cfg.train, schedule, mesh, shardings)
    else:
        step = make_shard_map_step(model, tx, cfg.train, schedule, mesh)
    losses = []
    for b in batches:
        state, m = step(state, b)
        losses.append(float(m["loss"]))
    return np.array(losses), jax.tree.map(np.asarray, state.params), shardings


@pytest.fixture(scope="module")
def reference():
    return run(MeshConfig(data=1), 1)


@pytest.fixture(scope="module")
def unpadded_reference():
    # horizon 1: no padded action steps, so per-device (or per-micro-batch) masked means average to
    # exactly the global masked mean; with padding they weight devices equally instead of by valid steps.
    return run(MeshConfig(data=1), 1, horizon=1)


def assert_same(a, b, tol=1e-5):
    np.testing.assert_allclose(a[0], b[0], atol=tol, rtol=tol)
    flat_a, flat_b = jax.tree.leaves(a[1]), jax.tree.leaves(b[1])
    assert len(flat_a) == len(flat_b)
    for x, y in zip(flat_a, flat_b, strict=True):
        np.testing.assert_allclose(x, y, atol=tol, rtol=tol)


@pytest.mark.parametrize("n", [2, 4, 8])
def test_data_parallel_matches_one_device(reference, n):
    assert_same(run(MeshConfig(data=n), n), reference)


def test_fsdp_shards_params_and_matches(reference):
    out = run(MeshConfig(data=2, fsdp=4, min_fsdp_size=0), 8)
    specs = [s.spec for s in jax.tree.leaves(out[2].params)]
    assert any("fsdp" in tuple(spec) for spec in specs), "FSDP rule sharded nothing"
    assert_same(out, reference)


def test_shard_map_matches_one_device(unpadded_reference):
    assert_same(run(MeshConfig(data=8), 8, parallelism="shard_map", horizon=1), unpadded_reference)


def test_grad_accumulation_matches_full_batch(unpadded_reference):
    assert_same(run(MeshConfig(data=2), 2, grad_accum=2, horizon=1), unpadded_reference, tol=2e-5)


def test_bf16_compute_keeps_fp32_master_weights():
    losses, params, _ = run(MeshConfig(data=2), 2, compute_dtype="bfloat16")
    assert all(x.dtype == np.float32 for x in jax.tree.leaves(params))
    ref_losses = run(MeshConfig(data=2), 2)[0]
    np.testing.assert_allclose(losses, ref_losses, rtol=5e-2)
    assert not np.allclose(losses, ref_losses, rtol=1e-7, atol=0)


def test_cpu_fusion_emitters_compile_the_step_alone_and_keep_its_numbers(reference, monkeypatch):
    """The option goes to the train step's jit (both parallelisms), never to the process, and the update stays
    the same. (XLA's optimised HLO is the same either way, the emitters change only code generation, so the
    option is read where it is handed to jax.jit.)"""
    import jaxrobot.train.step as step_module
    from jaxrobot.train.step import compiler_options

    mesh = make_mesh(MeshConfig(data=1), jax.devices()[:1])
    assert compiler_options(TrainConfig(cpu_fusion_emitters=True), mesh) == {"xla_cpu_use_fusion_emitters": True}
    assert compiler_options(TrainConfig(), mesh) is None
    seen = []
    real_jit = jax.jit

    def recording_jit(fn, *args, **kw):  # the step is the only donating jit here
        if kw.get("donate_argnums") == (0,):
            seen.append(kw.get("compiler_options"))
        return real_jit(fn, *args, **kw)

    monkeypatch.setattr(step_module.jax, "jit", recording_jit)
    assert_same(run(MeshConfig(data=1), 1, cpu_fusion_emitters=True), reference)
    assert_same(run(MeshConfig(data=2), 2, cpu_fusion_emitters=True), reference)
    run(MeshConfig(data=2), 2, parallelism="shard_map", cpu_fusion_emitters=True)
    assert seen == [{"xla_cpu_use_fusion_emitters": True}] * 3
    assert "xla_cpu_use_fusion_emitters=true" not in __import__("os").environ.get("XLA_FLAGS", "")
