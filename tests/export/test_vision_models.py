"""Every vision model jaxrobot trains exports to ONNX and TFLite (fp32, fp16, int8 dynamic range) with parity.

For GG-CNN2 grasp maps, the GQ-CNN-style candidate scorer and the deep visual servo net: a real checkpoint
from a few steps of ``jaxrobot train`` on the model's synthetic experiment (``experiments/grasp_synthetic.py:maps``,
``:candidates``, ``experiments/servo.py:synthetic``), exported into a bundle, then checked three ways:

1. the export's own parity report (fp32 within 1e-4 abs + 1e-5 rel of ``jax.jit``, fp16 within 5e-2 of
   the output scale, int8 reported and finite);
2. an independent reference: the model's own ``predict`` API on fresh data from the source (not the
   adapter's function), against every artifact run through the runtime's ``Bundle.runner`` at batch 1 and
   at batch 5;
3. ``jaxrobot-runtime check BUNDLE`` exits 0 with every artifact run.
"""

import json

import numpy as np
import pytest

import jaxrobot.catalog  # noqa: F401  (every data config kind, for the saved configs read back here)
from tests.helpers.export import train_small

FP32_ATOL, FP32_RTOL, FP16_REL = 1e-4, 1e-5, 5e-2
PRECISIONS = ("fp32", "fp16", "int8")

# experiment, steps, overrides (small pools: start-up cost only)
EXPERIMENTS = {
    "grasp_maps": ("grasp_synthetic.py:maps", 20, ("data.num_scenes=64",)),
    "grasp_maps_grconvnet": ("grasp_synthetic.py:maps", 10, ("data.num_scenes=64", "model.arch=grconvnet",
                                                          "model.grconvnet_channels=8", "model.grconvnet_res_blocks=1",
                                                          "model.grconvnet_groups=4")),
    "grasp_candidates": ("grasp_synthetic.py:candidates", 20, ("data.num_examples=128",)),
    "servo": ("servo.py:synthetic", 20, ("data.num_pairs=128",)),
}


def _export(name, tmp_path):
    from jaxrobot.export.bundle import export_checkpoint

    experiment, steps, overrides = EXPERIMENTS[name]
    workdir = train_small(experiment, tmp_path / "run", steps, *overrides)
    out = tmp_path / "bundle"
    report = export_checkpoint(workdir, out, formats=("onnx", "tflite"), precisions=PRECISIONS, parity_batch=8,
                               log=lambda s: None)
    return workdir, out, report


def _fresh_reference(kind, workdir, n=5):
    """``(model inputs for the bundle function, expected outputs)`` from the model's own API on a batch
    the export never saw (another seed of the data source)."""
    import jax

    from jaxrobot.data.sources import make_source
    from jaxrobot.models.registry import build_model
    from jaxrobot.train import checkpoint as ckpt_lib

    step, meta = ckpt_lib.read_meta(workdir)
    _, state = ckpt_lib.restore_arrays(workdir, step, item="state")
    cfg = ckpt_lib.config_from_meta(meta)
    model, params = build_model(cfg.model), state["params"]
    batch = next(make_source(cfg.data, global_batch_size=n, seed=123))
    if kind == "grasp_maps":
        return {"depth": batch["observation/depth"]}, {"maps": np.asarray(model.predict(params, batch))}
    if kind == "grasp_candidates":
        logit = np.asarray(model.predict(params, batch))
        crops = np.asarray(jax.jit(model.crops)(batch))
        return ({"crops": crops, "grip_depth": batch["grasp/depth"]},
                {"logit": logit, "probability": 1 / (1 + np.exp(-logit.astype(np.float64)))})
    twist = np.asarray(model.predict(params, batch))
    return ({"image": batch["observation/image"], "goal_image": batch["observation/goal_image"]},
            {"twist": twist, "twist_normalized": twist / np.asarray(cfg.model.twist_scale, np.float32)})


def _assert_within(ref, got, precision, what):
    ref, got = np.asarray(ref, np.float64), np.asarray(got, np.float64)
    assert got.shape == ref.shape, (what, got.shape, ref.shape)
    assert np.all(np.isfinite(got)), what
    if precision == "fp32":
        np.testing.assert_allclose(got, ref, atol=FP32_ATOL, rtol=FP32_RTOL, err_msg=what)
    elif precision == "fp16":
        scale = max(float(np.abs(ref).max()), 1.0)
        assert np.abs(got - ref).max() <= FP16_REL * scale, (what, np.abs(got - ref).max(), scale)


FUNCTION = {"grasp_maps": "maps", "grasp_candidates": "score", "servo": "servo"}
OUTPUTS = {"grasp_maps": {"maps": (32, 32, 4)}, "grasp_candidates": {"logit": (), "probability": ()},
           "servo": {"twist": (6,), "twist_normalized": (6,)}}
RUNTIME_KIND = {"grasp_maps": "maps", "grasp_candidates": "grasp_scorer", "servo": "servo"}


def _check_vision_export(name, tmp_path):
    from jaxrobot_runtime import check_bundle, load_bundle
    from jaxrobot_runtime.cli import main as runtime_main

    workdir, out, report = _export(name, tmp_path)
    kind = "grasp_maps" if name.startswith("grasp_maps") else name
    fn = FUNCTION[kind]

    # 1. the export's parity report: every artifact present, fp32/fp16 gated and within tolerance
    expected = {f"onnx/{fn}.onnx", f"onnx/{fn}.b1.onnx"} | {f"tflite/{fn}.{p}.tflite" for p in PRECISIONS}
    assert set(report) == expected
    for rel, rep in report.items():
        assert rep["ok"], (rel, rep)
        assert np.isfinite(rep["max_abs_err"]), (rel, rep)
        if rep["precision"] == "fp32":
            assert rep["gated"] and rep["max_abs_err"] < FP32_ATOL, (rel, rep)
        elif rep["precision"] == "fp16":
            assert rep["gated"] and rep["max_rel_err"] <= FP16_REL, (rel, rep)
        else:
            assert not rep["gated"] and rep["quantization"] == "dynamic_range"
    # TFLite kept the dynamic batch (no batch-1 fallback) for these nets
    assert all(rep["batch"] == "dynamic" for rel, rep in report.items() if rel.startswith("tflite/"))
    parity = json.loads((out / "parity.json").read_text())
    assert set(parity) == expected and all(parity[k]["format"] in ("onnx", "tflite") for k in parity)

    bundle = load_bundle(out)
    assert bundle.runtime["kind"] == RUNTIME_KIND[kind]
    assert set(bundle.functions) == {fn}
    assert bundle.functions[fn]["outputs"] == list(OUTPUTS[kind])

    # 2. the model's own predict on unseen data vs every artifact through Bundle.runner
    inputs, want = _fresh_reference(kind, workdir)
    for backend, precisions in (("onnx", ("fp32",)), ("tflite", PRECISIONS)):
        for precision in precisions:
            for batch in (1, 5):
                runner = bundle.runner(fn, backend, precision, batch=batch)
                got = runner({k: v[:batch] for k, v in inputs.items()})
                for name, shape in OUTPUTS[kind].items():
                    assert got[name].shape == (batch, *shape)
                    _assert_within(want[name][:batch], got[name], precision, f"{backend} {precision} b{batch} {name}")

    # 3. jaxrobot-runtime check: every artifact run (none skipped), all within tolerance
    res = check_bundle(out)
    assert res["ok"] and not res["skipped"] and not res["bad_files"], res
    assert set(res["artifacts"]) == expected
    assert runtime_main(["check", str(out)]) == 0
    return bundle, report


def test_grasp_maps_ggcnn2_exports_with_parity(tmp_path):
    bundle, _ = _check_vision_export("grasp_maps", tmp_path)
    assert bundle.runtime["outputs"]["maps"] == ["quality", "cos2", "sin2", "width"]
    assert bundle.meta["model"]["param_count"] > 60_000  # GG-CNN2 at the paper's widths (~66.7k)


@pytest.mark.slow
def test_grasp_maps_grconvnet_exports_with_parity(tmp_path):
    """GR-ConvNet (group norm, transposed convs) at a small width."""
    bundle, _ = _check_vision_export("grasp_maps_grconvnet", tmp_path)
    assert json.loads((bundle.path / "config.json").read_text())["model"]["arch"] == "grconvnet"


def test_grasp_map_depth_normalisation_is_accurate_in_onnx_at_batch_8():
    """Regression: the per-image depth mean once was a plain float32 sum, which ONNX Runtime's ReduceSum
    accumulates sequentially at batch > 1 (error 4e-6 after the depth scaling, 4e-4 in a trained GG-CNN2's
    maps, failing fp32 parity); the two-pass mean keeps it at float32 rounding (~3e-7)."""
    from jaxrobot.export.functions import ExportFunction, TensorSpec
    from jaxrobot.export.onnx_export import OnnxRunner, to_onnx
    from jaxrobot.models.grasp import _inputs
    from jaxrobot.skills.grasping.synthetic import SyntheticGraspMapsConfig, grasp_map_pool

    depth = grasp_map_pool(SyntheticGraspMapsConfig(num_scenes=8))["observation/depth"]
    d64 = depth.astype(np.float64)
    want = np.clip(d64 - d64.mean(axis=(1, 2), keepdims=True), -1.0, 1.0) / 0.1
    fn = ExportFunction("inputs", lambda d: _inputs({"observation/depth": d}, False, 1.0, 0.1),
                        (TensorSpec("depth", (None, 32, 32, 1), "float32"),), ("x",))
    got = OnnxRunner(to_onnx(fn).SerializeToString())({"depth": depth})["x"]
    assert np.abs(got - want).max() < 1e-6


def test_grasp_candidate_scorer_exports_with_parity(tmp_path):
    bundle, _ = _check_vision_export("grasp_candidates", tmp_path)
    assert bundle.runtime["crop_size"] == 16 and bundle.runtime["crop_scale"] == 1.0
    assert [s["name"] for s in bundle.functions["score"]["inputs"]] == ["crops", "grip_depth"]


def test_servo_net_exports_with_parity(tmp_path):
    bundle, _ = _check_vision_export("servo", tmp_path)
    assert len(bundle.runtime["twist_scale"]) == 6
    assert {s["name"] for s in bundle.functions["servo"]["inputs"]} == {"image", "goal_image"}
    assert all(s["dtype"] == "uint8" for s in bundle.functions["servo"]["inputs"])


def test_candidate_scorer_keeps_a_dynamic_batch_in_tflite():
    """The scorer's logit squeeze lowers to TFLite with a symbolic batch (``[:, 0]`` became a dynamic gather,
    which TFLite rejects, forcing a batch-1 model); checked on an untrained net, no checkpoint needed."""
    import jax
    import jax.numpy as jnp

    from jaxrobot.export.tflite_export import TFLiteRunner, to_tflite
    from jaxrobot.models.grasp import GraspCandidateConfig, GraspCandidateModel

    model = GraspCandidateModel(GraspCandidateConfig(crop_size=8, conv_features=(4, 4, 4, 4),
                                                     conv_kernels=(3, 3, 3, 3), image_hidden=8, merge_hidden=8))
    rng = np.random.default_rng(0)
    batch = {"observation/depth": rng.uniform(0.5, 0.6, (3, 16, 16, 1)).astype(np.float32),
             "grasp/center": rng.uniform(4, 12, (3, 2)).astype(np.float32),
             "grasp/angle": rng.uniform(-1, 1, 3).astype(np.float32),
             "grasp/depth": np.full(3, 0.55, np.float32)}
    params = model.init(jax.random.PRNGKey(0), {k: jnp.asarray(v) for k, v in batch.items()})
    plan = model.export_plan(params, {}, batch)
    fn = plan.functions[0]
    inputs = plan.sample_inputs(batch, rng)["score"]
    runner = TFLiteRunner(to_tflite(fn, "fp32"))  # batch=None: dynamic
    got = runner(inputs)
    want = jax.jit(fn.fn)(inputs["crops"], inputs["grip_depth"])
    np.testing.assert_allclose(got["logit"], np.asarray(want[0]), atol=1e-5)
    np.testing.assert_allclose(got["probability"], np.asarray(want[1]), atol=1e-6)


@pytest.mark.parametrize("idx", [(slice(None), -1), (slice(None), 0, slice(1, 3)), (Ellipsis, 0),
                                 (slice(None), slice(None, None, 2)), (slice(None), 1, Ellipsis, -2),
                                 (slice(None), None, 0)],
                         ids=["[:, -1]", "[:, 0, 1:3]", "[..., 0]", "[:, ::2]", "[:, 1, ..., -2]", "[:, None, 0]"])
def test_for_jax2tf_traces_static_indexing_as_slices(idx):
    """With a symbolic batch, static integer indexing is a slice (no gather) and selects what numpy selects;
    indices it does not handle (here a new axis) fall back to jax's own indexing."""
    import jax
    import jax.numpy as jnp

    from jaxrobot.export.workarounds import for_jax2tf

    b = jax.export.symbolic_shape("b")[0]
    x = np.random.default_rng(0).normal(size=(5, 3, 4)).astype(np.float32)
    exp = jax.export.export(jax.jit(for_jax2tf(lambda a: a[idx])))(jax.ShapeDtypeStruct((b, 3, 4), jnp.float32))
    np.testing.assert_array_equal(np.asarray(exp.call(x)), x[idx])
    assert ("gather" in exp.mlir_module()) == (None in idx)


def test_for_jax2tf_gives_a_dynamic_batch_tflite_model():
    """``x[:, -1]`` (ACT's current-frame state) lowers to a gather TFLite cannot convert at a dynamic batch;
    under the workaround (which ``to_tflite`` applies) it is a slice, and the model runs at any batch."""
    from jaxrobot.export.functions import ExportFunction, TensorSpec
    from jaxrobot.export.tflite_export import TFLiteRunner, to_tflite
    from jaxrobot.export.workarounds import for_jax2tf

    def fn(x):
        return x[:, -1] * 2.0 + x[:, 0]

    import jax
    from jax import export

    arg = jax.ShapeDtypeStruct((*export.symbolic_shape("b"), 3, 4), np.float32)
    raw = export.export(jax.jit(fn))(arg).mlir_module()
    fixed = export.export(jax.jit(for_jax2tf(fn)))(arg).mlir_module()
    assert "gather" in raw and "gather" not in fixed  # the gather is what TFLite cannot convert
    spec = (TensorSpec("x", (None, 3, 4), "float32"),)
    # to_tflite applies the workaround itself, so the plain function converts at a dynamic batch.
    runner = TFLiteRunner(to_tflite(ExportFunction("f", fn, spec, ("y",))))
    for n in (1, 5):
        x = np.random.default_rng(n).normal(size=(n, 3, 4)).astype(np.float32)
        np.testing.assert_allclose(runner({"x": x})["y"], x[:, -1] * 2.0 + x[:, 0], rtol=1e-6)


@pytest.mark.parametrize("k,stride,padding,length", [(5, 1, 2, 8), (3, 2, 1, 8), (1, 1, 0, 4), (5, 1, 2, 4),
                                                      (3, 1, 1, 3)])
def test_native_conv1d_equals_the_unet_im2col_conv(k, stride, padding, length):
    """The ONNX export traces the UNet's convolutions as ``lax.conv_general_dilated`` (one ``Conv`` node);
    it must compute what the training-time im2col matmul computes, for every shape the UNet uses (same,
    strided down-sampling, 1x1, and a kernel longer than the sequence)."""
    from jaxrobot.export.workarounds import _native_conv1d
    from jaxrobot.nn.unet1d import conv1d

    rng = np.random.default_rng(k * 10 + stride)
    x = rng.normal(size=(2, length, 6)).astype(np.float32)
    w = rng.normal(size=(k, 6, 7)).astype(np.float32)
    want = np.asarray(conv1d(x, w, stride, padding))
    got = np.asarray(_native_conv1d(x, w, stride, padding))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
