"""Training throughput on this machine: float vs QAT (W4A4), fp32 vs bf16 autocast.

Reports images/s for each and the ratios against float fp32 measured in the same run.
Usage: python benchmarks/train_throughput.py [--model squeezenet1_1-cifar10] [--batch 256] [--steps 8]
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from hwsqueeze.models import create
from hwsqueeze.train.amp import fp32_act_quantizers


def steps_per_s(model_name: str, quant: str, bf16: bool, batch: int, steps: int) -> float:
    torch.manual_seed(0)
    m = create(model_name, quant).to(memory_format=torch.channels_last).train()
    if bf16:  # as `hwsqueeze train` does: activation quantizers in fp32 under autocast (train/amp.py)
        fp32_act_quantizers(m, "cpu")
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    x = torch.randint(0, 256, (batch, 3, m.arch.input_size, m.arch.input_size)).float()
    x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, m.arch.num_classes, (batch,))

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = m(x)
        loss = torch.nn.functional.cross_entropy(out.float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    # QAT activation scales collect statistics for their first steps (slower); skip them
    for _ in range(60 if quant != "float" else 2):
        step() if quant == "float" else _stats_step(m, x)
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - t)


@torch.no_grad()
def _stats_step(m, x):
    m(x[:8])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="squeezenet1_1-cifar10")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=8)
    a = ap.parse_args()
    res = {}
    for quant in ("float", "w4a4"):
        for bf16 in (False, True):
            res[f"{quant}-{'bf16' if bf16 else 'fp32'}"] = steps_per_s(a.model, quant, bf16, a.batch, a.steps)
    base = res["float-fp32"]
    print(f"training throughput, {a.model}, batch {a.batch}, {torch.get_num_threads()} threads")
    for k, v in res.items():
        print(f"  {k:12s} {v:8.0f} img/s   {v / base:5.2f}x float-fp32")
    print(json.dumps({"images_per_s": res, "qat_over_float_bf16": res["w4a4-bf16"] / res["float-bf16"]}))


if __name__ == "__main__":
    main()
