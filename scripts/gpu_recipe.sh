#!/usr/bin/env bash
# The campaign's stages (scripts/train_campaign.sh, the one table of their options) on one GPU, in
# chunks that each fit one call of a time-limited GPU machine (the device tool: 10 min a command).
# NOT YET RUN ON A GPU (no GPU was lent when it was written); its chunking, resume and publishing
# are tested on CPU (tests/train/test_gpu_recipe.py).
#
# Each call runs the named stages in order (default: every stage whose checkpoint is not yet
# published), each in whole epochs (`hwsqueeze train --stop-after N`, N <= CHUNK) while the time
# left in BUDGET_S fits them (estimated from the last epoch's time in metrics.json), copying the
# stage's last.pt / final.pt / metrics.json to $OUT/<stage>/ after every chunk. A finished stage's
# final.pt is published where the campaign puts it (`train_campaign.sh path STAGE`, under
# checkpoints/) and to $OUT/published/, so the next stage finds its --teacher / --init.
# Bring $OUT/<stage>/ back into $RUNS/<stage>/ and $OUT/published/* into checkpoints/, and call
# again: training resumes exactly from last.pt. Prints "recipe done" when every stage is published.
#
#   bash scripts/gpu_recipe.sh prepare           # here, once: wheels + data into .gpu/ (git-ignored)
#   bash scripts/gpu_recipe.sh [STAGE ...]       # on the GPU machine: device run, carry [".gpu"], timeout_s 600
#   bash scripts/gpu_recipe.sh bench             # on the GPU machine: benchmarks/train_throughput.py there
#   # then: mkdir -p .gpu/runs && cp -r <files_at>/STAGE .gpu/runs/ ; cp <files_at>/published/* checkpoints/
set -euo pipefail
cd "$(dirname "$0")/.."
GPU_DIR=${GPU_DIR:-.gpu}
RUNS=${RUNS:-$GPU_DIR/runs}
DATA=${DATA:-$GPU_DIR/data/cifar10-jpeg.tar.gz}
DEVICE=${DEVICE:-cuda}
BUDGET_S=${BUDGET_S:-480}            # training time per call: < 9 min with start-up and copies
CHUNK=${CHUNK:-10}                   # at most this many epochs per `hwsqueeze train` run
FIRST_EPOCH_S=${FIRST_EPOCH_S:-40}   # guess for a stage's first chunk (nothing measured yet)
STARTUP_S=${STARTUP_S:-30}           # per chunk: process start, data load, evaluation
EXTRA=${EXTRA:-}                     # more `hwsqueeze train` options, after the stage's (tests: --model ...)
PY=${PY:-$(command -v python3)}
CK=${CK:-checkpoints}                # where the campaign publishes (tests point it elsewhere)
export DATA RUNS CK                  # the campaign's stage options read them
campaign() { bash scripts/train_campaign.sh "$@"; }

if [[ ${1:-} == prepare ]]; then  # on the development machine: what the GPU image lacks
    mkdir -p "$GPU_DIR/wheels" "$GPU_DIR/data"
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d "$GPU_DIR/wheels" \
        brevitas==0.13.4 dependencies==2.0.1 unfoldNd==0.2.3
    cp -n "${SHARED_DATA:-../shared/data/cifar10-jpeg.tar.gz}" "$GPU_DIR/data/"
    exit 0
fi

if ! "$PY" -c "import brevitas" 2>/dev/null; then  # the GPU image has torch but not Brevitas
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$GPU_DIR"/wheels/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
hw() { "$PY" -c 'import sys; from hwsqueeze.cli import run; sys.argv[0] = "hwsqueeze"; run()' "$@"; }
T0=$(date +%s)

if [[ ${1:-} == bench ]]; then  # QAT vs float, Brevitas' quantizer ops vs the fused ones, on the GPU
    "$PY" benchmarks/train_throughput.py --device "$DEVICE" --batch 256 --threads 8 --steps 10 --profile \
        | tee ${OUT:+"$OUT/throughput.txt"}
    exit 0
fi

save() {  # what the next call needs to $OUT (the device tool brings it back; at most 8 files)
    [[ -n ${OUT:-} ]] || return 0
    local f
    for f in last.pt final.pt metrics.json; do
        [[ -f $RUNS/$1/$f ]] && mkdir -p "$OUT/$1" && cp "$RUNS/$1/$f" "$OUT/$1/$f"
    done
    return 0
}

fit() {  # epochs of stage $1 (at most $2) that fit in what is left of the budget after ${3}s
    "$PY" - "$RUNS/$1/metrics.json" "$2" "$3" "$BUDGET_S" "$FIRST_EPOCH_S" "$STARTUP_S" <<'EOF'
import json, sys
path, chunk, used, budget, first, startup = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:])
try:
    epoch_s = json.load(open(path))["epochs"][-1]["epoch_s"]  # the last epoch, evaluation included
except (OSError, ValueError, KeyError, IndexError):
    epoch_s = first  # nothing measured yet
print(chunk if epoch_s <= 0 else max(0, min(chunk, int((budget - used - startup) // epoch_s))))
EOF
}

stage() {  # name: chunks until final.pt or the budget is spent, then publish final.pt
    local name=$1 opts
    opts=$(campaign args "$name")
    campaign restore "$name"  # a CPU session's committed resume state, if any
    while [[ ! -f $RUNS/$name/final.pt ]]; do
        local n used
        used=$(( $(date +%s) - T0 ))
        n=$(fit "$name" "$CHUNK" "$used")
        if (( n == 0 )); then
            if (( TRAINED )); then
                echo "gpu_recipe: $name: ${used}s of ${BUDGET_S}s used, no further epoch fits: call again"
                save "$name"
                exit 0
            fi
            n=1  # not even one epoch fits a whole call: run one anyway, or no call would progress
            echo "gpu_recipe: $name: an epoch may not fit BUDGET_S=${BUDGET_S}s; running one"
        fi
        # shellcheck disable=SC2086  # the campaign's options hold no spaces (its args())
        hw train $opts --device "$DEVICE" --stop-after "$n" $EXTRA
        TRAINED=1
        save "$name"
    done
    campaign publish "$name"
    if [[ -n ${OUT:-} ]]; then mkdir -p "$OUT/published" && cp "$(campaign path "$name")" "$OUT/published/"; fi
}

if (( $# )); then
    stages=("$@")
    for s in "${stages[@]}"; do campaign path "$s" >/dev/null; done  # an unknown stage: usage, exit 2
else  # every stage not yet published, in the campaign's order
    mapfile -t stages < <(campaign pending)
fi
echo "gpu_recipe: stages: ${stages[*]}"
TRAINED=0
for s in "${stages[@]}"; do
    if [[ -f $(campaign path "$s") ]]; then echo "gpu_recipe: $s: published already"; continue; fi
    stage "$s"
done
echo "gpu_recipe: recipe done: ${stages[*]}"
