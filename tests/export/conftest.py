"""Shared fixtures: one small trained BC checkpoint (2-frame history) and its exported bundle per session."""

import pathlib

import pytest


@pytest.fixture(scope="session")
def bc_workdir(tmp_path_factory) -> pathlib.Path:
    """BC on the synthetic data with a 2-frame history, 100 steps (a few seconds)."""
    from tests.helpers.export import train_small

    return train_small("bc_synthetic", tmp_path_factory.mktemp("bc") / "run", 100, "data.n_obs_steps=2",
                       "data.num_episodes=16")


@pytest.fixture(scope="session")
def bc_bundle(bc_workdir, tmp_path_factory) -> tuple[pathlib.Path, dict]:
    from jaxrobot.export.bundle import export_checkpoint

    out = tmp_path_factory.mktemp("bundles") / "bc"
    report = export_checkpoint(bc_workdir, out, formats=("onnx", "tflite"),
                               precisions=("fp32", "fp16", "int8", "int8_full"), log=lambda s: None)
    return out, report
