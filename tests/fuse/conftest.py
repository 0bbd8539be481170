"""FINN+ prepared once per session for the fusion tests."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def finn_env(tmp_path_factory):
    pytest.importorskip("finn")
    from hwsqueeze.compile.finn_env import activate

    return activate(tmp_path_factory.mktemp("finn"))
