#!/usr/bin/env bash
# Board-side tests in a board-like environment: numpy<2 + pynq 4.0 (as on PYNQ images), no torch,
# onnx, qonnx or finn. Uses a deploy package of the tiny Fire network built with the main .venv.
# Creates .venv-board/ once (~1 min); `make test` runs this after pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-board
PY=${PYTHON:-python3}
if [ ! -f "$VENV/.installed" ]; then
    rm -rf "$VENV"
    if ! "$PY" -m venv "$VENV"; then
        echo "board-env tests SKIPPED: cannot create a venv with $PY"; exit 0
    fi
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q "numpy<2" "pynq==4.0.0" pytest pillow matplotlib
    touch "$VENV/.installed"
fi
OUT=build/.board-env-test
if [ ! -f "$OUT/deploy/deploy.json" ] || [ -n "$(find hwsqueeze -newer "$OUT/deploy/deploy.json" -name '*.py' | head -1)" ]; then
    .venv/bin/hwsqueeze build --model squeezenet-tiny-cifar10 --target-fps 1000 --out "$OUT" --quiet > /dev/null
fi
"$VENV/bin/python" -c "import numpy, pynq; print('board env: numpy', numpy.__version__, '| pynq', pynq.__version__)"
# The deploy package's own tests (HW vs SW on the emulated board) and the board-env checks.
HWSQUEEZE_DEPLOY="$PWD/$OUT/deploy" HWSQUEEZE_EXPECT_NUMPY1=1 \
    "$VENV/bin/python" -m pytest -q -p no:cacheprovider --rootdir "$OUT/deploy" "$OUT/deploy/tests" tests/board
