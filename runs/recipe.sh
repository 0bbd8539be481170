#!/usr/bin/env bash
# The exact commands that produced the shipped default model (see hwsqueeze/default_model/RECIPE.md).
set -euo pipefail
DATA=${DATA:-../shared/data/cifar10-jpeg.tar.gz}
HW=${HW:-.venv/bin/hwsqueeze}
$HW train --data "$DATA" --out runs/float --model squeezenet1_1-cifar10 --quant float \
    --epochs 40 --lr 0.2 --weight-decay 5e-4 --quiet
$HW train --data "$DATA" --out runs/w4a4-lr01 --model squeezenet1_1-cifar10 --quant w4a4 \
    --init runs/float/final.pt --epochs 20 --lr 0.01 --weight-decay 1e-4 --quiet
