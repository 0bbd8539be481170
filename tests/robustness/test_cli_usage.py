"""Usage mistakes (missing or malformed options, unknown commands or models) are one line too,
exit 2, pointing at the right --help."""
from __future__ import annotations

import pytest
from helpers import run_cli


@pytest.mark.parametrize("args,needle", [
    (("eval", "--n", "0"), "Missing option '--data'. (see `hwsqueeze eval --help`)"),
    (("build", "--margin", "7"), "Invalid value for '--margin'"),
    (("train", "--epochs", "x"), "'x' is not a valid integer"),
    (("nosuchcmd",), "No such command 'nosuchcmd'. (see `hwsqueeze --help`)"),
    (("size", "--model", "nope"), "--model: unknown model 'nope'; known: squeezenet-tiny-cifar10"),
])
def test_usage_errors_are_one_line(args, needle):
    res = run_cli(*args)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2 and len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ") and needle in lines[0] and "Traceback" not in res.stderr
