"""The policies export through jax2onnx 0.17.1 and match JAX in onnxruntime.

Guards the export-driven choices in the models: no ``stop_gradient`` on constants in ``predict``, a
max-pool with explicit zero padding, 1-D convolutions as matmuls, ellipsis-free attention einsums, and a
random-free Diffusion sampling loop (``DiffusionModel.sample``) whose carried values export as a Loop.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrobot.models.act import ACTModel
from jaxrobot.models.diffusion import DiffusionModel
from jaxrobot.nn.backbones import make_backbone
from tests.helpers.model_fixtures import small_act, small_dp, synthetic_batch

jax2onnx = pytest.importorskip("jax2onnx")
ort = pytest.importorskip("onnxruntime")


def _roundtrip(fn, inputs):
    names = [f"in{i}" for i in range(len(inputs))]
    model = jax2onnx.to_onnx(fn, [x.shape for x in inputs], opset=20, input_names=names, output_names=["out"])
    got = ort.InferenceSession(model.SerializeToString()).run(
        None, {n: np.asarray(x) for n, x in zip(names, inputs, strict=True)}
    )[0]
    return model, got, np.asarray(fn(*inputs))


@pytest.mark.parametrize("norm", ["frozen_bn", "group_norm"])
def test_resnet_exports(norm):
    m = make_backbone("resnet18", norm, 8)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 40, 40, 3)), jnp.float32)
    v = m.init(jax.random.PRNGKey(0), x)
    _, got, want = _roundtrip(lambda x: m.apply(v, x), [x])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_act_predict_exports():
    cfg = small_act()
    model = ACTModel(cfg)
    b = synthetic_batch(1, cfg.chunk_size)
    v = model.init(jax.random.PRNGKey(0), b)
    st, im = b["observation/state"], b["observation/image_main"].astype(jnp.float32)
    onnx_model, got, want = _roundtrip(
        lambda s, i: model.predict(v, {"observation/state": s, "observation/image_main": i}), [st, im]
    )
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    equations = {a.s.decode() for n in onnx_model.graph.node if n.op_type == "Einsum" for a in n.attribute}
    assert equations and not any("..." in e for e in equations)  # TensorRT 8 rejects ellipsis einsums


@pytest.mark.slow
def test_diffusion_sample_exports():
    cfg = small_dp()
    model = DiffusionModel(cfg)
    b = synthetic_batch(cfg.n_obs_steps, cfg.horizon)
    v = model.init(jax.random.PRNGKey(0), b)
    st, im = b["observation/state"], b["observation/image_main"].astype(jnp.float32)
    noise = jax.random.normal(jax.random.PRNGKey(1), (st.shape[0], cfg.horizon, cfg.action_dim))
    _, got, want = _roundtrip(
        lambda s, i, n: model.sample(v, {"observation/state": s, "observation/image_main": i}, n),
        [st, im, noise],
    )
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
