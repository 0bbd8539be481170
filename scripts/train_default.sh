#!/usr/bin/env bash
# The stages that produced the shipped default model (hwsqueeze/default_model/RECIPE.md): the
# campaign's teacher, float and w4a4 stages (their options: scripts/train_campaign.sh), then the
# packaging. A stage whose checkpoint is already in checkpoints/ is skipped: delete it to retrain.
# Resumable: re-running continues the unfinished stage. Wall time on 2 cores: ~4.6 h quiet.
set -euo pipefail
cd "$(dirname "$0")/.."
for stage in teacher float w4a4; do
    bash scripts/train_campaign.sh "$stage"
done
${VENV:-.venv}/bin/python scripts/ship_default_model.py "$(bash scripts/train_campaign.sh path float)" \
    "$(bash scripts/train_campaign.sh path w4a4)"
