#!/usr/bin/env bash
# A stock install, proven: `make venv` into a fresh venv in a temporary folder, from one package
# index alone (INDEX_URL, default PyPI), with every pip configuration file and PIP_* variable of
# this machine switched off (no local wheel folders, extra indexes or global constraints) and a
# cold pip cache; then `pip check` (only the known, deliberate conflicts below pass), imports of the
# key modules and `hwsqueeze doctor`. Prints wall time and venv size. Not part of `make test` or CI:
# it downloads several GB. Usage: scripts/check-install.sh [--keep]   (or `make check-install`)
#   INDEX_URL=...  the one index (default https://pypi.org/simple)
#   PIP_CERT       kept if set: a CA bundle for TLS (trust, not a package source)
#   PYTHON=...     the interpreter the venv is made from (default python3, as `make venv`)
set -euo pipefail
cd "$(dirname "$0")/.."
INDEX_URL=${INDEX_URL:-https://pypi.org/simple}
keep=0
case "${1:-}" in
    "") ;;
    --keep) keep=1 ;;
    *) echo "usage: $0 [--keep]" >&2; exit 2 ;;
esac

# `pip check` lines that are known and intended (why: docs/install.md and the Makefile's comments):
# finn-plus's brevitas pin, and the requirements of the packages `make venv` installs --no-deps.
KNOWN=(
    '^finn-plus [^ ]+ has requirement brevitas==0\.13\.0, but you have brevitas '
    '^finn-plus-driver [^ ]+ has requirement numpy<2\.0\.0,>=1\.21, but you have numpy '
    '^finn-plus-driver [^ ]+ requires (finn-dataset-loading|grpcio|h5py), which is not installed\.$'
    '^mip [^ ]+ requires cbcbox, which is not installed\.$'
    '^hls4ml [^ ]+ requires (h5py|pydigitalwavetools|quantizers), which is not installed\.$'
)
# what a stock venv must import (the board side, the flow, the simulators' Python parts)
IMPORTS="torch brevitas onnx onnxruntime qonnx finn finn_plus_driver hwsqueeze hwsqueeze.reference hwsqueeze.runtime \
hwsqueeze.compile.pipeline hwsqueeze.train"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hwsqueeze-check-install-XXXXXX")
if [ "$keep" = 1 ]; then echo "keeping $tmp"; else trap 'rm -rf "$tmp"' EXIT; fi

# the working tree as git sees it (tracked and new files, no ignored build outputs), so the
# editable install of `make venv` points at a clean copy and writes nothing here
mkdir "$tmp/src"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$tmp/src"

# a clean environment: no PIP_* variable but the CA bundle, no pip config file, no PYTHONPATH
clean=(env)
for v in $(compgen -e | grep '^PIP_' || true); do [ "$v" = PIP_CERT ] || clean+=(-u "$v"); done
clean+=(-u PYTHONPATH -u VIRTUAL_ENV PIP_CONFIG_FILE=/dev/null PIP_INDEX_URL="$INDEX_URL"
        PIP_CACHE_DIR="$tmp/pip-cache" PIP_DISABLE_PIP_VERSION_CHECK=1)
venv="$tmp/venv"
echo "index: $INDEX_URL (the only one; pip config files off${PIP_CERT:+, CA bundle $PIP_CERT})"

start=$(date +%s)
"${clean[@]}" make -C "$tmp/src" --no-print-directory venv VENV="$venv" PYTHON="${PYTHON:-python3}"
secs=$(( $(date +%s) - start ))

cd "$tmp"  # from here on nothing may come from this checkout (python puts the cwd on sys.path)
echo "== pip check"
report=$("${clean[@]}" "$venv/bin/pip" check 2>&1 || true)
unknown=0
while IFS= read -r line; do
    [ -z "$line" ] && continue
    [ "$line" = "No broken requirements found." ] && { echo "  $line"; continue; }
    ok=0
    for pat in "${KNOWN[@]}"; do [[ $line =~ $pat ]] && { ok=1; break; }; done
    if [ "$ok" = 1 ]; then echo "  known:   $line"; else echo "  UNKNOWN: $line"; unknown=$((unknown + 1)); fi
done <<< "$report"
[ "$unknown" = 0 ] || { echo "pip check: $unknown conflict(s) beyond the known ones" >&2; exit 1; }

echo "== imports"
"${clean[@]}" "$venv/bin/python" - "$tmp/src" $IMPORTS <<'EOF'
import importlib, sys, warnings
warnings.simplefilter("ignore")  # brevitas warns about an optional CUDA kernel package
for name in sys.argv[2:]:
    mod = importlib.import_module(name)
    print(f"  {name:28s} {getattr(mod, '__version__', '')}")
import hwsqueeze  # the editable install of the copied tree, not this checkout
assert hwsqueeze.__file__.startswith(sys.argv[1]), f"hwsqueeze imported from {hwsqueeze.__file__}"
EOF

echo "== hwsqueeze doctor"
"${clean[@]}" "$venv/bin/hwsqueeze" doctor
"${clean[@]}" "$venv/bin/hwsqueeze" doctor --json | "$venv/bin/python" -c '
import json, sys
stages = {s["stage"]: s["runs"] for s in json.load(sys.stdin)["stages"]}
need = [s for s in stages if s.startswith(("train / eval / export", "build steps", "simulate RTL"))]
missing = [s for s in need if not stages[s]]
sys.exit(f"doctor: a stock install cannot run: {missing}" if missing or len(need) != 3 else 0)'

size=$(du -sh "$venv" | cut -f1)
echo "stock install OK: make venv from $INDEX_URL alone in $((secs / 60)) min $((secs % 60)) s, venv $size"
