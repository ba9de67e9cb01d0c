"""The grasp networks export to ONNX with jax2onnx (opset 17) and onnxruntime matches jit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrobot.models.grasp import GraspCandidateConfig, GraspCandidateModel, GraspMapConfig, GraspMapModel

pytest.importorskip("jax2onnx")
ort = pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.slow  # ~20 s, mostly importing jax2onnx


def _run_onnx(fn, shapes, inputs):
    from jax2onnx import to_onnx

    model = to_onnx(fn, shapes, opset=17)
    sess = ort.InferenceSession(model.SerializeToString())
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, dict(zip(names, inputs, strict=True)))[0]


@pytest.mark.parametrize("cfg", [GraspMapConfig(), GraspMapConfig(arch="grconvnet", grconvnet_channels=8,
                                                                   grconvnet_res_blocks=1, grconvnet_groups=4)],
                         ids=["ggcnn2", "grconvnet"])
def test_grasp_map_net_exports(cfg):
    model = GraspMapModel(cfg)
    depth = np.random.default_rng(0).uniform(0.5, 0.6, (2, 32, 32, 1)).astype(np.float32)
    params = model.init(jax.random.PRNGKey(0), {"observation/depth": jnp.asarray(depth[:1])})
    fn = lambda d: model.net.apply(params, {"observation/depth": d})
    out = _run_onnx(fn, [("B", 32, 32, 1)], [depth])
    np.testing.assert_allclose(out, np.asarray(fn(jnp.asarray(depth))), atol=1e-4)


def test_candidate_scorer_exports():
    model = GraspCandidateModel(GraspCandidateConfig(crop_size=16))
    rng = np.random.default_rng(0)
    crops = rng.uniform(0.5, 0.6, (3, 16, 16)).astype(np.float32)
    z = np.full((3,), 0.55, np.float32)
    params = model.net.init(jax.random.PRNGKey(0), jnp.asarray(crops), jnp.asarray(z))
    fn = lambda c, d: model.score_crops(params, c, d)
    out = _run_onnx(fn, [("B", 16, 16), ("B",)], [crops, z])
    np.testing.assert_allclose(out, np.asarray(fn(jnp.asarray(crops), jnp.asarray(z))), atol=1e-4)
