"""Named dataset mixtures with sampling weights, as Octo defines them (octo-models/octo @ 241fb35,
``octo/data/oxe/oxe_dataset_mixes.py``): same members, same weights, same order.

A mixture is a list of ``(dataset name, weight)``; :func:`mixture_weights` resolves it as Octo's
``make_oxe_dataset_kwargs_and_weights`` does: a name listed twice keeps its first weight (``rtx_franka`` is
``rtx`` followed by the Franka list, which repeats four of its datasets). Weights are relative sampling rates
per dataset (``MixtureDataConfig`` normalises them); Octo can also multiply them by dataset sizes
(``balance_weights``), which is not part of the mixture itself.
"""

from __future__ import annotations

from jaxrobot.data.base import DataError

_BRIDGE = (("bridge_dataset", 1.0),)

_RT_X = (
    ("fractal20220817_data", 0.54087122203),
    ("kuka", 0.8341046294),
    ("bridge_dataset", 1.0),
    ("taco_play", 2.0),
    ("jaco_play", 2.0),
    ("berkeley_cable_routing", 3.0),
    ("roboturk", 1.0),
    ("nyu_door_opening_surprising_effectiveness", 5.0),
    ("viola", 2.0),
    ("berkeley_autolab_ur5", 1.0),
    ("toto", 1.0),
)

_FRANKA = (
    ("taco_play", 1.0),
    ("berkeley_cable_routing", 1.0),
    ("viola", 1.0),
    ("toto", 1.0),
    ("stanford_hydra_dataset_converted_externally_to_rlds", 1.0),
    ("austin_buds_dataset_converted_externally_to_rlds", 3.0),
    ("nyu_franka_play_dataset_converted_externally_to_rlds", 3.0),
    ("maniskill_dataset_converted_externally_to_rlds", 0.1),
    ("furniture_bench_dataset_converted_externally_to_rlds", 0.1),
    ("cmu_franka_exploration_dataset_converted_externally_to_rlds", 5.0),
    ("austin_sailor_dataset_converted_externally_to_rlds", 1.0),
    ("austin_sirius_dataset_converted_externally_to_rlds", 1.0),
    ("berkeley_rpt_converted_externally_to_rlds", 1.0),
    ("kaist_nonprehensile_converted_externally_to_rlds", 3.0),
    ("stanford_robocook_converted_externally_to_rlds", 1.0),
    ("iamlab_cmu_pickup_insert_converted_externally_to_rlds", 1.0),
    ("utaustin_mutex", 1.0),
    # ("cmu_playing_with_food", 1.0) is commented out in Octo
    ("cmu_play_fusion", 1.0),
)

_MAGIC_SOUP = (
    ("fractal20220817_data", 0.54087122203),
    ("kuka", 0.8341046294),
    ("bridge_dataset", 1.0),
    ("taco_play", 2.0),
    ("jaco_play", 1.0),
    ("berkeley_cable_routing", 1.0),
    ("roboturk", 2.0),
    ("nyu_door_opening_surprising_effectiveness", 1.0),
    ("viola", 2.0),
    ("berkeley_autolab_ur5", 2.0),
    ("toto", 1.0),
    ("language_table", 0.1),
    ("stanford_hydra_dataset_converted_externally_to_rlds", 2.0),
    ("austin_buds_dataset_converted_externally_to_rlds", 1.0),
    ("nyu_franka_play_dataset_converted_externally_to_rlds", 3.0),
    ("furniture_bench_dataset_converted_externally_to_rlds", 0.1),
    ("ucsd_kitchen_dataset_converted_externally_to_rlds", 2.0),
    ("austin_sailor_dataset_converted_externally_to_rlds", 1.0),
    ("austin_sirius_dataset_converted_externally_to_rlds", 1.0),
    ("bc_z", 0.2),
    ("dlr_edan_shared_control_converted_externally_to_rlds", 1.0),
    ("iamlab_cmu_pickup_insert_converted_externally_to_rlds", 1.0),
    # ("uiuc_d3field", 1.0) is commented out in Octo ("somehow raw data is broken")
    ("utaustin_mutex", 1.0),
    ("berkeley_fanuc_manipulation", 2.0),
    ("cmu_stretch", 1.0),
)

# The magic soup without uiuc_d3field, plus Octo's flexible-action-space datasets.
_FLEX_ACT_SOUP = _MAGIC_SOUP[:20] + (
    ("berkeley_mvp_converted_externally_to_rlds", 1.0),
    # ("berkeley_rpt_converted_externally_to_rlds", 1.0) is commented out in Octo
) + _MAGIC_SOUP[20:] + (
    ("gnm_dataset", 1.0),
    ("aloha_static_dataset", 3.0),
    # ("aloha_dagger_dataset", 1.0) is commented out in Octo
    ("aloha_mobile_dataset", 2.0),
    # ("fmb_dataset", 1.0) is commented out in Octo
    ("dobbe", 1.0),
    ("roboset", 0.5),
    ("rh20t", 0.5),
)

MIXTURES: dict[str, tuple[tuple[str, float], ...]] = {
    "bridge": _BRIDGE,
    "rtx": _RT_X,
    "rtx_franka": _RT_X + _FRANKA,
    "oxe_magic_soup": _MAGIC_SOUP,
    "oxe_flex_act_soup": _FLEX_ACT_SOUP,
}


def list_mixtures() -> list[str]:
    return sorted(MIXTURES)


def mixture_weights(name: str) -> dict[str, float]:
    """``{dataset: weight}`` of mixture ``name`` in Octo's order; a repeated dataset keeps its first weight.
    DataError naming the known mixtures for an unknown name."""
    try:
        members = MIXTURES[name]
    except KeyError:
        raise DataError(f"unknown dataset mixture {name!r}; known: {list_mixtures()}") from None
    out: dict[str, float] = {}
    for dataset, weight in members:
        out.setdefault(dataset, float(weight))
    return out
