"""`hwsqueeze train` with bad options, unwritable outputs, changed resumes and Ctrl-C."""
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import run_cli
from robustness._util import run_cli_one_error, tree_snapshot

TINY = ["--data", "generated:40", "--model", "squeezenet-tiny-cifar10", "--max-test", "20", "--quiet"]


@pytest.mark.parametrize("opt,value,match", [
    ("--wbits", "0", "--wbits 0: must be 2..32"), ("--abits", "0", "--abits 0: must be 1..32"),
    ("--width", "0", "--width 0.0: must be in (0, 8]"), ("--width", "nan", "--width nan"),
    ("--batch-size", str(10**9), "--batch-size 1000000000: must be"), ("--epochs", "0", "--epochs 0"),
    ("--lr", "nan", "--lr nan"), ("--max-train", "0", "--max-train 0: must be >= 1"),
    ("--max-test", "-1", "--max-test -1"), ("--seed", "-1", "--seed -1"),
    ("--sparsity", "1", "--sparsity 1.0: must be in [0, 1)"), ("--data", "generated:0", "generated:0: N must be >= 1"),
])
def test_bad_option_refused_before_work(tmp_path, opt, value, match):
    args = ["train", "--out", tmp_path / "run", "--epochs", "1", *TINY, opt, value]
    run_cli_one_error(args, 2, match)
    assert tree_snapshot(tmp_path) == {}  # no run folder was created


@pytest.mark.parametrize("where", ["under_a_file", "read_only"])
def test_unwritable_out_refused_before_the_first_epoch(tmp_path, where):
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "run" if where == "under_a_file" else Path("/proc/hwsqueeze-run")
    before = tree_snapshot(tmp_path)
    r = run_cli_one_error(["train", "--out", out, "--epochs", "1", *TINY], 2, f"--out {out}")
    assert "epoch" not in r.stderr and tree_snapshot(tmp_path) == before


def test_missing_init_checkpoint(tmp_path):
    run_cli_one_error(["train", "--out", tmp_path / "run", "--init", tmp_path / "nope.pt", *TINY], 2,
                      "checkpoint not found")


def test_resume_says_what_changed(tmp_path):
    out = tmp_path / "run"
    r = run_cli("train", "--out", str(out), "--epochs", "1", *TINY)
    assert r.returncode == 0, r.stderr
    before = tree_snapshot(tmp_path)
    run_cli_one_error(["train", "--out", out, "--epochs", "2", "--lr", "0.1", *TINY], 2,
                      "started with other options: --epochs 1 -> 2, --lr 0.2 -> 0.1; resume continues")
    assert tree_snapshot(tmp_path) == before  # refused: last.pt, final.pt, metrics.json untouched
    # evaluation-only options continue with the new value, said in one note
    r = run_cli("train", "--out", str(out), "--epochs", "1", *[a if a != "20" else "30" for a in TINY])
    assert r.returncode == 0, r.stderr
    assert "note: resuming" in r.stderr and "--max-test 20 -> 30 (evaluation only" in r.stderr


def test_ctrl_c_exits_130_and_leaves_no_partial_files(tmp_path):
    """SIGINT during training: one 'aborted' line, exit 130, no traceback, no temporary files; last.pt
    (written atomically after epoch 1) still loads."""
    out = tmp_path / "run"
    exe = Path(sys.executable).parent / "hwsqueeze"
    p = subprocess.Popen([str(exe), "train", "--out", str(out), "--epochs", "200", "--data", "generated:200",
                          "--model", "squeezenet-tiny-cifar10", "--max-test", "10", "--batch-size", "50",
                          "--quiet", "--no-bf16"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         # as in a terminal: a run launched in the background of a script (CI) inherits
                         # SIGINT ignored, and Python then never turns it into KeyboardInterrupt
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        t0 = time.time()
        while not (out / "last.pt").exists() and time.time() - t0 < 300 and p.poll() is None:
            time.sleep(0.2)
        assert (out / "last.pt").exists(), "no epoch finished within 300 s"
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err
    assert "Traceback" not in err, err
    assert err.strip().splitlines()[-1] in ("aborted", "interrupted"), err  # click turns it into Abort
    assert not [f.name for f in out.iterdir() if ".tmp" in f.name]
    from hwsqueeze.train import load_checkpoint
    assert load_checkpoint(out / "last.pt")["epoch"] >= 1
