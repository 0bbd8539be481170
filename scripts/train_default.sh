#!/usr/bin/env bash
# The stages that produced a shipped model (hwsqueeze/default_model/RECIPE.md), then its packaging:
#   bash scripts/train_default.sh        the default (campaign stages teacher, float, w4a4; ~4.6 h)
#   bash scripts/train_default.sh fast   the fast model (teacher, float, teacher-cutout, w3a3; ~3.3 h
#                                        more once the default's stages are done)
# Options of each stage: scripts/train_campaign.sh. A stage whose checkpoint is already in
# checkpoints/ is skipped: delete it to retrain. Resumable: re-running continues the unfinished
# stage. Wall times on 2 quiet cores.
set -euo pipefail
cd "$(dirname "$0")/.."
case ${1:-default} in
    default) stages=(teacher float w4a4); qat=w4a4; name=squeezenet1_1-cifar10-w4a4 ;;
    fast) stages=(teacher float teacher-cutout w3a3); qat=w3a3; name=squeezenet1_1-cifar10-w3a3 ;;
    *) echo "usage: bash scripts/train_default.sh [default|fast]" >&2; exit 2 ;;
esac
for stage in "${stages[@]}"; do
    bash scripts/train_campaign.sh "$stage"
done
${VENV:-.venv}/bin/python scripts/ship_default_model.py "$(bash scripts/train_campaign.sh path float)" \
    "$(bash scripts/train_campaign.sh path "$qat")" "$name"
