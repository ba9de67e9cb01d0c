"""Shared, compiled-once simulation fixtures.

Compiling the batched MJX step takes 12-60 s here, so every fast test shares ONE batch size
(``tests.helpers.sim.BATCH``) and the session-scoped env / batched functions / expert rollout below; the
persistent compilation cache (set up by tests/conftest.py through ``jaxrobot.platform.configure``) makes the
next session start in seconds.
"""

from __future__ import annotations

import pytest

from tests.helpers.sim import BATCH, SEED


@pytest.fixture(scope="session")
def env():
    from jaxrobot.sim import registry

    return registry.load("pick_cube")


@pytest.fixture(scope="session")
def benv(env):
    from jaxrobot.sim.batch import batched

    return batched(env)


@pytest.fixture(scope="session")
def expert_rollout(benv):
    """The expert (with noise injection) on episodes 0..BATCH-1 of seed SEED."""
    from jaxrobot.sim.demos import rollout_expert

    return rollout_expert(benv, SEED, 0, BATCH)
