"""ACT: LeRobot parameter parity (shapes only), positions, the loss's masking and KL, inference with z = 0."""

import argparse

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrobot.cli.model import run_params
from jaxrobot.config import ConfigError, load_experiment, validate
from jaxrobot.models.act import ACTModel, kl_to_standard_normal
from jaxrobot.models.params import count_params
from tests.helpers.model_fixtures import act_batch, count, default_act_config, small_act, synthetic_batch


def _abstract(cfg, batch):
    return jax.eval_shape(ACTModel(cfg).init, jax.random.PRNGKey(0), batch)


def test_trainable_count_matches_lerobot_at_defaults():
    v = _abstract(default_act_config(), act_batch())
    p = v["params"]
    assert count(p) == 51_613_582  # LeRobot 0.4.4 ACT, 14-D state and action, one camera
    assert count(p["vae_encoder"]) == 17_332_736
    assert count(p["backbone"]) == 11_166_912
    assert count(v["frozen"]) == 4 * 4_800  # frozen BN scale, bias, mean, var: buffers in LeRobot


def test_seven_decoder_layers_count_matches_lerobot():
    assert count(_abstract(default_act_config(n_decoder_layers=7), act_batch())["params"]) == 83_922_574


def test_cli_prints_reference_count(capsys):
    assert count_params(load_experiment("experiments/act_aloha_defaults.py")) == 51_613_582
    run_params(argparse.Namespace(config="experiments/act_aloha_defaults.py", set=[]))
    assert capsys.readouterr().out.strip() == "params=51613582"


def test_options_build():
    base = count(_abstract(default_act_config(), act_batch())["params"])
    gn = _abstract(default_act_config(backbone_norm="group_norm"), act_batch())
    assert "frozen" not in gn and count(gn["params"]) == base + 9_600
    mb = _abstract(default_act_config(backbone="mobilenet_v3_small"), act_batch())
    assert count(mb["params"]["backbone"]) == 927_008 - 12_112
    assert count(_abstract(default_act_config(pre_norm=True), act_batch())["params"]) == base + 2 * 1024
    no_vae = _abstract(default_act_config(use_vae=False), act_batch())
    assert "vae_encoder" not in no_vae["params"]
    state_only = _abstract(default_act_config(), act_batch(image=False))
    assert "backbone" not in state_only["params"]


def test_keypoint_tokens_add_a_spatial_softmax_per_backbone():
    base = _abstract(default_act_config(), act_batch())["params"]
    kp = _abstract(default_act_config(keypoint_tokens=32), act_batch())["params"]
    # 1x1 conv 512 -> 32, a Dense 64 -> 512 from the 32 (x, y), one position per camera
    assert count(kp) - count(base) == (512 * 32 + 32) + (64 * 512 + 512) + 512
    assert kp["keypoints"]["nets"]["kernel"].shape == (512, 32)
    with pytest.raises(ConfigError, match="keypoint_tokens"):
        validate(default_act_config(keypoint_tokens=-1))


def test_keypoint_token_carries_gradient_and_changes_the_chunk():
    cfg = small_act(keypoint_tokens=4)
    model = ACTModel(cfg)
    batch = synthetic_batch(n_obs_steps=1, horizon=cfg.chunk_size)
    variables = model.init(jax.random.PRNGKey(0), batch)
    (_, _), grads = jax.value_and_grad(model.loss, has_aux=True)(variables, batch, jax.random.PRNGKey(1))
    assert float(optax_norm(grads["params"]["keypoints"])) > 0
    assert float(optax_norm(grads["params"]["encoder_keypoint_input_proj"])) > 0
    obs = {k: v for k, v in batch.items() if k.startswith("observation/")}
    before = model.predict(variables, obs)
    params = dict(variables["params"])
    params["encoder_keypoint_input_proj"] = jax.tree.map(lambda x: x * 2.0, params["encoder_keypoint_input_proj"])
    after = model.predict({**variables, "params": params}, obs)
    assert float(jnp.abs(after - before).max()) > 1e-4


def test_init_rejects_mismatched_chunk():
    with pytest.raises(ConfigError, match="chunk_size"):
        _abstract(default_act_config(chunk_size=50), act_batch())


def test_config_validation_names_backbone_fields():
    # the check shared with Diffusion Policy (nn.backbones.check_backbone_fields)
    with pytest.raises(ConfigError, match="config field 'model.backbone_output_stride'.*resnet18 only"):
        validate(default_act_config(backbone="mobilenet_v3_small", backbone_output_stride=8), "model.")
    with pytest.raises(ConfigError, match="config field 'backbone_width': must be >= 1, got 0"):
        validate(default_act_config(backbone_width=0))
    with pytest.raises(ConfigError, match="config field 'random_shift': must be >= 0 pixels, got -1"):
        validate(default_act_config(random_shift=-1))


def test_kl_closed_form():
    rng = np.random.default_rng(0)
    mu, lv = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    var = np.exp(lv)
    want = np.mean(np.sum(0.5 * (var + mu**2 - 1 - lv), axis=1))
    assert float(kl_to_standard_normal(jnp.asarray(mu), jnp.asarray(lv))) == pytest.approx(want, rel=1e-5)
    assert float(kl_to_standard_normal(jnp.zeros((2, 4)), jnp.zeros((2, 4)))) == 0.0


@pytest.fixture(scope="module")
def small():
    cfg = small_act()
    model = ACTModel(cfg)
    batch = synthetic_batch(n_obs_steps=1, horizon=cfg.chunk_size)
    variables = jax.jit(model.init)(jax.random.PRNGKey(0), batch)
    loss = jax.jit(jax.value_and_grad(model.loss, has_aux=True))
    return model, batch, variables, loss


def test_small_loss_and_frozen_gradients(small):
    model, batch, variables, loss = small
    (value, metrics), grads = loss(variables, batch, jax.random.PRNGKey(1))
    assert np.isfinite(float(value)) and set(metrics) == {"l1", "kld"}
    assert float(value) == pytest.approx(
        float(metrics["l1"] + model.config.kl_weight * metrics["kld"]), rel=1e-5
    )
    assert all(float(jnp.abs(g).max()) == 0.0 for g in jax.tree.leaves(grads["frozen"]))
    assert float(optax_norm(grads["params"]["backbone"])) > 0


def optax_norm(tree):
    return jnp.sqrt(sum(jnp.sum(x**2) for x in jax.tree.leaves(tree)))


def test_padded_actions_do_not_affect_the_loss(small):
    _, batch, variables, loss = small
    pad = ~np.asarray(batch["action_pad_mask"])
    assert pad.any(), "the fixture batch should contain padding"
    changed = dict(batch)
    changed["action"] = jnp.where(jnp.asarray(pad)[..., None], 1e3, batch["action"])
    (a, _), _ = loss(variables, batch, jax.random.PRNGKey(2))
    (b, _), _ = loss(variables, changed, jax.random.PRNGKey(2))
    assert float(a) == pytest.approx(float(b), rel=1e-6)
    changed["action"] = batch["action"].at[0, 0, 0].add(1.0)  # a valid element does count
    (c, _), _ = loss(variables, changed, jax.random.PRNGKey(2))
    assert float(c) != float(a)


def test_predict_is_deterministic_and_needs_no_actions(small):
    model, batch, variables, _ = small
    obs = {k: v for k, v in batch.items() if k.startswith("observation/")}
    predict = jax.jit(model.predict)
    a = predict(variables, obs, jax.random.PRNGKey(0))
    b = predict(variables, obs, jax.random.PRNGKey(1))
    assert a.shape == (batch["action"].shape[0], model.config.chunk_size, model.config.action_dim)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("pre_norm", [False, True])
def test_skipping_repeated_work_equals_the_straightforward_step(pre_norm):
    """The last CVAE layer computing only the CLS token, and the decoder's first self-attention computed once
    per batch, give the full computation's loss and gradients.

    Dropout on (0.1) and padded actions in the batch: the masks are drawn for the full tensors and sliced, so
    the values agree to float rounding, not just in distribution. A sliced mask drawn at the small shape, or a
    missing key mask, would move the loss by far more than the tolerance.
    """
    from jaxrobot.models.act import ACTNet

    cfg = small_act(pre_norm=pre_norm, dropout=0.1, n_vae_encoder_layers=3)
    fast, plain = ACTModel(cfg), ACTModel(cfg)
    plain.net = ACTNet(cfg, skip_repeated_work=False)
    batch = synthetic_batch(n_obs_steps=1, horizon=cfg.chunk_size)
    assert not np.asarray(batch["action_pad_mask"]).all()  # padding reaches the CVAE's key mask
    variables = jax.jit(fast.init)(jax.random.PRNGKey(0), batch)
    outs = [jax.jit(jax.value_and_grad(m.loss, has_aux=True))(variables, batch, jax.random.PRNGKey(3))
            for m in (fast, plain)]
    (lf, mf), gf = outs[0]
    (lp, mp), gp = outs[1]
    assert float(lf) == pytest.approx(float(lp), rel=1e-6)
    assert float(mf["kld"]) == pytest.approx(float(mp["kld"]), rel=1e-5)
    for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(gf), jax.tree.leaves(gp), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6,
                                   err_msg=jax.tree_util.keystr(path))
    # the CVAE's last-layer weights do get gradients (only the CLS row feeds the latent)
    last = gf["params"]["vae_encoder"][f"layers_{cfg.n_vae_encoder_layers - 1}"]
    assert float(jnp.abs(last["linear1"]["kernel"]).max()) > 0
    # inference (no dropout: the decoder's first self-attention stays at batch 1) gives the same chunks
    np.testing.assert_allclose(np.asarray(fast.predict(variables, batch)), np.asarray(plain.predict(variables, batch)),
                               rtol=1e-5, atol=1e-6)
    # and a differently seeded step does differ: the comparison above is not between constants
    (l2, _), _ = jax.jit(jax.value_and_grad(fast.loss, has_aux=True))(variables, batch, jax.random.PRNGKey(4))
    assert abs(float(l2) - float(lf)) > 1e-4
