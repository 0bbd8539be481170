"""Training throughput on this machine: float vs QAT (W4A4), fp32 vs bf16 autocast, and QAT
through Brevitas' own quantizer ops vs the fused ones ``hwsqueeze train`` uses (train/fastquant.py,
bit-identical results).

Every configuration runs the same SGD step; they take turns (``--repeats`` rounds) so load from
other jobs on a shared machine hits all of them alike, and each reports its best round. Ratios
are against float in the same run. ``--profile`` adds torch.profiler's top ops of one QAT step
of each path. ``--bounds-ab`` times the fused W4A4 bf16 step with the quantizer's clamp bounds as
0-dim tensors (before) and as Python numbers (now, train/fastquant.py), steps taking turns, and
checks that both give the same losses.
Usage: python benchmarks/train_throughput.py [--model squeezenet1_1-cifar10] [--batch 128] [--steps 3]
       [--repeats 3] [--threads 1] [--profile] [--compile] [--device cpu|cuda] [--bounds-ab]
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Callable, Dict

import torch

from hwsqueeze.models import create
from hwsqueeze.train.amp import fp32_act_quantizers
from hwsqueeze.train.fastquant import fuse_quantizers

CONFIGS = {  # name: (quant, bf16, fused quantizers)
    "float-fp32": ("float", False, False), "float-bf16": ("float", True, False),
    "w4a4-fp32": ("w4a4", False, False), "w4a4-bf16": ("w4a4", True, False),
    "w4a4-fp32-fused": ("w4a4", False, True), "w4a4-bf16-fused": ("w4a4", True, True),
}


def make_step(model_name: str, quant: str, bf16: bool, fused: bool, batch: int,
              compiled: bool = False, device: str = "cpu") -> Callable[[], torch.Tensor]:
    """One training step (forward, loss, backward, SGD) of a fresh model, as `hwsqueeze train` runs it;
    it returns the loss. The warm-up step (torch.compile's compilation) is timed into ``WARMUP_S``."""
    torch.manual_seed(0)
    m = create(model_name, quant).to(device).to(memory_format=torch.channels_last).train()
    x = torch.randint(0, 256, (batch, 3, m.arch.input_size, m.arch.input_size)).float().to(device)
    x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, m.arch.num_classes, (batch,)).to(device)
    if quant != "float":  # past the activation scales' statistics steps (slower, only the first 50)
        with torch.no_grad():
            for _ in range(51):
                m(x[:4])
    if bf16:  # as `hwsqueeze train` does: activation quantizers in fp32 under autocast (train/amp.py)
        fp32_act_quantizers(m, torch.device(device).type)
    if fused:
        fuse_quantizers(m)
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    fwd = torch.compile(m) if compiled else m

    def step() -> torch.Tensor:
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=bf16):
            out = fwd(x)
        loss = torch.nn.functional.cross_entropy(out.float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.detach()
    t = time.perf_counter()
    FIRST_LOSS[(quant, bf16, fused, compiled)] = step()  # warm-up
    WARMUP_S[(quant, bf16, fused, compiled)] = time.perf_counter() - t
    return step


FIRST_LOSS: Dict[tuple, torch.Tensor] = {}
WARMUP_S: Dict[tuple, float] = {}


def measure(a: argparse.Namespace) -> Dict[str, float]:
    def sync() -> None:  # GPU work is asynchronous: time what ran, not what was queued
        if torch.device(a.device).type == "cuda":
            torch.cuda.synchronize()

    steps = {k: make_step(a.model, *cfg, a.batch, device=a.device) for k, cfg in CONFIGS.items()}
    if a.compile:  # the fused W4A4 bf16 step under torch.compile (inductor): speed, compile time, same loss?
        steps["w4a4-bf16-fused-compiled"] = make_step(a.model, "w4a4", True, True, a.batch, True, a.device)
    best = {k: 0.0 for k in steps}
    for _ in range(a.repeats):
        for k, step in steps.items():
            sync()
            t = time.perf_counter()
            for _ in range(a.steps):
                step()
            sync()
            best[k] = max(best[k], a.batch * a.steps / (time.perf_counter() - t))
    if a.profile:
        from torch.profiler import ProfilerActivity, profile

        for k in ("w4a4-bf16", "w4a4-bf16-fused"):
            acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if a.device.startswith("cuda") else [])
            with profile(activities=acts) as p:
                steps[k]()
                sync()
            print(f"--- {k}: one step, top ops by self time")
            key = "self_cuda_time_total" if a.device.startswith("cuda") else "self_cpu_time_total"
            print(p.key_averages().table(sort_by=key, row_limit=12))
    return best


def _tensor_bounds_forward(ctx, x, scale, lo, hi, ste_clamp, nonneg):
    """_IntQuantFn.forward as it was before the clamp bounds became Python numbers."""
    q = x / scale
    y = torch.round(q)
    clip = None
    if not ste_clamp:
        clip = y > hi if nonneg else (y > hi).logical_or_(y < lo)
    y = y.clamp_(lo, hi)
    ctx.save_for_backward(q, y, scale, clip)
    return y * scale


def bounds_ab(a: argparse.Namespace) -> Dict[str, object]:
    """The fused W4A4 bf16 step with tensor clamp bounds (before) and number bounds (now)."""
    from hwsqueeze.train.fastquant import _IntQuantFn

    now = _IntQuantFn.forward
    variants = {"before": staticmethod(_tensor_bounds_forward), "now": staticmethod(now)}
    steps = {}
    for k, fwd in variants.items():
        _IntQuantFn.forward = fwd
        steps[k] = make_step(a.model, "w4a4", True, True, a.batch, device=a.device)
    best, losses = {k: 0.0 for k in steps}, {k: [] for k in steps}
    try:
        for _ in range(a.repeats):
            for k, step in steps.items():
                _IntQuantFn.forward = variants[k]
                t = time.perf_counter()
                for _ in range(a.steps):
                    losses[k].append(float(step()))
                best[k] = max(best[k], a.batch * a.steps / (time.perf_counter() - t))
    finally:
        _IntQuantFn.forward = now
    return {"images_per_s": best, "speedup": best["now"] / best["before"],
            "same_losses": losses["before"] == losses["now"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="squeezenet1_1-cifar10")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (a GPU: --batch 256 --threads 8)")
    ap.add_argument("--compile", action="store_true", help="also the fused QAT step under torch.compile")
    ap.add_argument("--bounds-ab", action="store_true", help="only: clamp bounds as tensors vs numbers")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.bounds_ab:
        print(json.dumps(bounds_ab(a)))
        return
    res = measure(a)
    print(f"training throughput on {a.device}, {a.model}, batch {a.batch}, {torch.get_num_threads()} thread(s), "
          f"best of {a.repeats} rounds of {a.steps} steps")
    for k, v in res.items():
        float_ref = res["float-bf16" if "bf16" in k else "float-fp32"]  # the same run's float
        print(f"  {k:16s} {v:8.1f} img/s   {v / float_ref:5.2f}x float ({'bf16' if 'bf16' in k else 'fp32'})")
    extra = {}
    if a.compile:
        key = ("w4a4", True, True, True)
        same = torch.equal(FIRST_LOSS[key], FIRST_LOSS[("w4a4", True, True, False)])
        extra = {"compile_s": WARMUP_S[key], "compiled_loss_identical": same,
                 "compiled_speedup_over_fused": res["w4a4-bf16-fused-compiled"] / res["w4a4-bf16-fused"]}
        print(f"  torch.compile: first step {WARMUP_S[key]:.0f} s, first loss identical to eager: {same}")
    print(json.dumps({**extra, "images_per_s": res,
                      "qat_over_float_bf16": {"brevitas": res["w4a4-bf16"] / res["float-bf16"],
                                              "fused": res["w4a4-bf16-fused"] / res["float-bf16"]},
                      "fused_speedup_bf16": res["w4a4-bf16-fused"] / res["w4a4-bf16"],
                      "fused_speedup_fp32": res["w4a4-fp32-fused"] / res["w4a4-fp32"]}))


if __name__ == "__main__":
    main()
