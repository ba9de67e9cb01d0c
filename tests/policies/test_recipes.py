"""The shared sim-policy recipes: per-task facts land where they should, bad variants fail clearly."""

from __future__ import annotations

import pytest

from jaxrobot.config import ConfigError
from jaxrobot.policies.recipes import SimDemos, act_recipe, diffusion_recipe

DEMOS = SimDemos(task="push_t", action_dim=2, proprio="state[0:2]", camera="top", state_path="s", image_path="i",
                 full_path="f")
STEPS = {"state": 11, "image": 22}
EVERY = {"state": 3, "image": 4}


def test_act_variants_take_the_task_facts():
    state = act_recipe(DEMOS, "state", chunk=7, steps=STEPS, eval_every=EVERY)
    assert (state.name, state.data.path, state.data.cameras) == ("act_push_t_state", "s", None)
    assert (state.model.action_dim, state.model.chunk_size, state.data.horizon) == (2, 7, 7)
    assert (state.train.steps, state.train.eval_every, state.train.eval_task) == (11, 3, "push_t")
    image = act_recipe(DEMOS, "image", chunk=7, steps=STEPS, eval_every=EVERY)
    assert image.data.state_keys == ("steps/observation/state[0:2]",) and image.data.cameras == ("top",)
    assert (image.data.path, image.train.steps, image.model.backbone_norm) == ("i", 22, "group_norm")
    full = act_recipe(DEMOS, "full", chunk=7, steps=STEPS, eval_every=EVERY)
    assert (full.data.path, full.train.batch_size, full.train.eval_episodes) == ("f", 8, 100)


def test_diffusion_image_settings_reach_only_the_image_variant():
    kw = dict(steps=STEPS, eval_every=EVERY, image_model=dict(spatial_softmax_num_keypoints=24))
    image = diffusion_recipe(DEMOS, "image", **kw)
    state = diffusion_recipe(DEMOS, "state", **kw)
    assert image.model.spatial_softmax_num_keypoints == 24
    assert state.model.spatial_softmax_num_keypoints != 24
    assert (image.data.n_obs_steps, image.data.normalization, image.train.ema_power) == (2, "min_max", 0.75)


@pytest.mark.parametrize("recipe", [act_recipe, diffusion_recipe])
def test_unknown_variant_names_the_known_ones(recipe):
    extra = {"chunk": 5} if recipe is act_recipe else {"image_model": {}}
    with pytest.raises(ConfigError, match="unknown variant 'huge'.*state, image, full"):
        recipe(DEMOS, "huge", steps=STEPS, eval_every=EVERY, **extra)
