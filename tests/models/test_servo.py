"""Deep visual servoing: trains on kinematically generated image pairs and beats predicting zero.

(Tests jaxrobot/models/servo.py; kept under tests/vision with the IBVS labels it learns from.)
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxrobot import config as C
from jaxrobot.models.servo import ServoConfig, ServoModel
from jaxrobot.skills.servoing.synthetic import render_points, servo_pairs


def test_render_points_places_coloured_dots():
    img = render_points(np.array([[3.0, 5.0], [10.0, 2.0]]), 12, 16)
    assert img.shape == (12, 16, 3)
    assert tuple(img[5, 3]) == (255, 0, 0) and tuple(img[2, 10]) == (0, 255, 0)
    assert img[8, 8].sum() == 0


def test_config_validation():
    with pytest.raises(C.ConfigError, match="twist_scale"):
        C.validate(ServoConfig(twist_scale=(1.0, 1.0)))


def test_servo_net_trains_and_beats_zero():
    rng = np.random.default_rng(0)
    train = {k: jnp.asarray(v) for k, v in servo_pairs(rng, 2048).items()}
    test = servo_pairs(rng, 256)
    std = np.asarray(train["servo/twist"]).std(0)
    model = ServoModel(ServoConfig(twist_scale=tuple(float(s) for s in std)))
    params = model.init(jax.random.PRNGKey(0), train)
    opt = optax.adam(2e-3)
    state = opt.init(params)

    @jax.jit
    def step(params, state, idx):
        batch = jax.tree.map(lambda x: x[idx], train)
        (loss, _), grads = jax.value_and_grad(model.loss, has_aux=True)(params, batch, jax.random.PRNGKey(0))
        updates, state = opt.update(grads, state)
        return optax.apply_updates(params, updates), state, loss

    for _ in range(300):
        params, state, _ = step(params, state, jnp.asarray(rng.integers(0, 2048, 64)))
    pred = np.asarray(model.predict(params, {k: jnp.asarray(v) for k, v in test.items()}))
    y = test["servo/twist"]
    mse = np.mean(((pred - y) / std) ** 2)
    zero = np.mean((y / std) ** 2)
    assert mse < 0.75 * zero, (mse, zero)
    # rotation about the optical axis (a pure image rotation) is learned well
    assert np.mean((pred[:, 5] - y[:, 5]) ** 2) < 0.7 * np.var(y[:, 5])


@pytest.mark.slow
def test_servo_net_exports_to_onnx():
    jax2onnx = pytest.importorskip("jax2onnx")
    ort = pytest.importorskip("onnxruntime")
    model = ServoModel(ServoConfig())
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (2, 32, 32, 3)).astype(np.uint8)
    goal = rng.integers(0, 255, (2, 32, 32, 3)).astype(np.uint8)
    params = model.init(jax.random.PRNGKey(0), {"observation/image": jnp.asarray(img),
                                                "observation/goal_image": jnp.asarray(goal)})
    fn = lambda a, b: model.net.apply(params, a.astype(jnp.float32), b.astype(jnp.float32))
    onnx_model = jax2onnx.to_onnx(fn, [("B", 32, 32, 3), ("B", 32, 32, 3)], opset=17)
    sess = ort.InferenceSession(onnx_model.SerializeToString())
    names = [i.name for i in sess.get_inputs()]
    out = sess.run(None, {names[0]: img.astype(np.float32), names[1]: goal.astype(np.float32)})[0]
    np.testing.assert_allclose(out, np.asarray(fn(jnp.asarray(img), jnp.asarray(goal))), atol=1e-4)
