#!/usr/bin/env bash
# Board-side tests in board-like environments, without torch, onnx, qonnx or finn:
#   .venv-board    python3 + numpy<2 + pynq 4.0 (pynq's own MMIO/allocate on a fake device)
#   .venv-board38  Python 3.8 + numpy<2, as on PYNQ 2.7 images (when a Python 3.8 is found, e.g. via pyenv)
# They run the tests of a deploy package of the tiny Fire network (built with the main .venv)
# plus tests/board. Environments are created once (~1 min); `make test` runs this after pytest.
# An environment that cannot be built fails this script (it never skips silently).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=build/.board-env-test
if [ ! -f "$OUT/deploy/deploy.json" ] || [ -n "$(find hwsqueeze tests/hw -newer "$OUT/deploy/deploy.json" -name '*.py' | head -1)" ]; then
    .venv/bin/hwsqueeze build --model squeezenet-tiny-cifar10 --target-fps 1000 --out "$OUT" --quiet > /dev/null
fi

make_env() {  # make_env DIR PYTHON PACKAGES...
    local dir=$1 py=$2; shift 2
    if [ ! -f "$dir/.installed" ]; then
        rm -rf "$dir"
        "$py" -m venv "$dir"
        if ! "$dir/bin/pip" install -q "$@" > "$dir.log" 2>&1; then
            echo "board env $dir: FAILED to install $* (last lines of $dir.log below)"; tail -5 "$dir.log"; exit 1
        fi
        touch "$dir/.installed"
    fi
}

run_tests() {  # run_tests DIR EXPECT_PYNQ: says what it runs, fails when the env is not what it claims
    "$1/bin/python" - "$2" <<'PY' || { echo "board env $1: not the environment it should be"; exit 1; }
import sys, numpy
try:
    import pynq; have = "pynq " + pynq.__version__
except ImportError:
    have = "no pynq"
print("board env", sys.executable, "| Python", sys.version.split()[0], "| numpy", numpy.__version__, "|", have)
assert numpy.__version__.startswith("1."), "numpy must be 1.x here, as on PYNQ images"
assert sys.argv[1] != "1" or have != "no pynq", "pynq was installed but does not import"
PY
    HWSQUEEZE_DEPLOY="$PWD/$OUT/deploy" HWSQUEEZE_EXPECT_NUMPY1=1 HWSQUEEZE_EXPECT_PYNQ=$2 \
        "$1/bin/python" -m pytest -q -rs -p no:cacheprovider --rootdir "$OUT/deploy" "$OUT/deploy/tests" tests/board
}

make_env .venv-board "${PYTHON:-python3}" "numpy<2" "pynq==4.0.0" pytest pillow matplotlib
run_tests .venv-board 1
PY38=""
for cand in python3.8 $(command -v pyenv > /dev/null && ls -d "$(pyenv root)"/versions/3.8*/bin/python3.8 2>/dev/null); do
    if "$cand" -c "import sys; assert sys.version_info[:2] == (3, 8)" 2> /dev/null; then PY38=$cand; break; fi
done
if [ -n "$PY38" ]; then
    make_env .venv-board38 "$PY38" "numpy<2" pytest pillow
    run_tests .venv-board38 0  # syntax/numpy-1 check of the board code; pynq is tested in .venv-board
else
    echo "board env Python 3.8: SKIPPED (no Python 3.8 found); its syntax is still checked by tests/reference"
fi
