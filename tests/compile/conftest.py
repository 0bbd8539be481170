"""FINN+ needs its environment prepared once per session (settings, Vivado-absence stubs)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def finn_env(tmp_path_factory):
    from hwsqueeze.compile.finn_env import activate

    return activate(tmp_path_factory.mktemp("finn"))
