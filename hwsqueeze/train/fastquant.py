"""Faster QAT steps: Brevitas' integer quantizer as one autograd function, same numbers.

Brevitas quantizes ``x`` with scale ``s`` as a chain of autograd ops (``x / s``, ``+ 0``,
``round_ste``, two ``torch.where`` for the clamp, ``- 0``, ``* s``): nine full-size tensors
forward, eleven backward, and ``where`` with a scalar operand is slow on CPU. Profiled on a
CPU W4A4 step (``benchmarks/train_throughput.py --profile``) these ops took over half the step.

:class:`_IntQuantFn` computes the same forward values and the *same gradients, bit for bit*:
every floating-point operation autograd would do on the path is done here in the same form
(``g * s`` then ``/ s`` for the input; ``sum(g * y)`` and ``-sum(g' * ((x / s) / s))`` for the
scale, reduced by the same ``sum_to_size``), only the exact ones are dropped or merged:
``+ 0`` and ``- 0`` (a zero point that is always 0), the two ``where`` (one ``clamp`` and one
boolean mask), and the negation moved after the sum (IEEE negation commutes with rounding).
``tests/train/test_fastquant.py`` checks this against Brevitas' own modules over training steps.

:func:`fuse_quantizers` installs it on every quantizer whose structure is exactly the one
this reproduces (``IntQuant`` with ``RoundSte``, ``TensorClamp``/``TensorClampSte``, no delay,
identity view, ``ZeroZeroPoint``); anything else keeps Brevitas' path.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

__all__ = ["fuse_quantizers", "unfuse_quantizers"]


class _IntQuantFn(torch.autograd.Function):
    """``clamp(round(x / s), lo, hi) * s`` with Brevitas' straight-through gradients."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor,
                ste_clamp: bool, nonneg: bool) -> torch.Tensor:
        # Python-number bounds: clamp's scalar kernel, ~2.5x faster on CPU than its tensor-bound
        # one, same values (lo and hi are integers; they get no gradient either way)
        lo, hi = float(lo), float(hi)
        q = x / scale
        y = torch.round(q)
        clip: Optional[torch.Tensor] = None
        if not ste_clamp:  # TensorClamp: no gradient where the value was clipped (NaN: not clipped)
            clip = y > hi if nonneg else (y > hi).logical_or_(y < lo)
        y = y.clamp_(lo, hi)  # = where(y > hi, hi, y) then where(y < lo, lo, y), NaN kept
        ctx.save_for_backward(q, y, scale, clip)
        return y * scale

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        q, y, scale, clip = ctx.saved_tensors
        gy = g * scale  # d(y * s)/dy
        if clip is not None:
            gy = gy.masked_fill_(clip, 0.0)
        gs = None
        if ctx.needs_input_grad[1]:
            # autograd's MulBackward0 (other) + DivBackward0 (other): sum(g * y) + sum(-g' * ((x / s) / s))
            shape = scale.shape
            if g.stride() == q.stride() and shape != q.shape:
                # one buffer for both products (fewer large allocations: ~25 % of this backward);
                # same layout as autograd's out-of-place products, so the sums add in the same order
                t = q / scale
                b = t.mul_(gy).sum_to_size(shape)
                a = torch.mul(g, y, out=t).sum_to_size(shape)
            else:
                a, b = (g * y).sum_to_size(shape), (gy * (q / scale)).sum_to_size(shape)
            gs = a + b.neg_()
        gx = gy.div_(scale) if ctx.needs_input_grad[0] else None  # d(x / s)/dx (round: straight through)
        return gx, gs, None, None, None, None


def _fits(tensor_quant: nn.Module) -> bool:
    """Whether ``tensor_quant`` is exactly the Brevitas structure :class:`_IntQuantFn` reproduces."""
    from brevitas.core.function_wrapper import Identity, RoundSte, TensorClamp, TensorClampSte
    from brevitas.core.quant import IntQuant, RescalingIntQuant
    from brevitas.core.quant.delay import _NoDelay
    from brevitas.core.zero_point import ZeroZeroPoint

    iq = getattr(tensor_quant, "int_quant", None)
    return (type(tensor_quant) is RescalingIntQuant and type(iq) is IntQuant
            and type(iq.float_to_int_impl) is RoundSte
            and type(iq.tensor_clamp_impl) in (TensorClamp, TensorClampSte)
            and type(iq.delay_wrapper.delay_impl) is _NoDelay and type(iq.input_view_impl) is Identity
            and type(tensor_quant.zero_point_impl) is ZeroZeroPoint)


def _fused_forward(iq: nn.Module, nonneg: bool):
    from brevitas.core.function_wrapper import TensorClampSte

    ste = type(iq.tensor_clamp_impl) is TensorClampSte

    def forward(scale, zero_point, bit_width, x):
        return _IntQuantFn.apply(x, scale, iq.min_int(bit_width), iq.max_int(bit_width), ste, nonneg)
    return forward


def fuse_quantizers(model: nn.Module) -> int:
    """Route every fitting Brevitas integer quantizer of ``model`` through :class:`_IntQuantFn`
    (state_dict, export and results unchanged); how many. Undo with :func:`unfuse_quantizers`."""
    from brevitas.proxy.runtime_quant import FusedActivationQuantProxy

    done = 0
    for mod in model.modules():
        tq = getattr(mod, "tensor_quant", None)
        if tq is None or not _fits(tq) or "forward" in vars(tq.int_quant):
            continue
        # after a ReLU the input is >= 0 (or NaN), so `round(x / s) < 0` cannot happen
        nonneg = (isinstance(mod, FusedActivationQuantProxy) and isinstance(mod.activation_impl, nn.ReLU)
                  and not tq.int_quant.signed)
        tq.int_quant.forward = _fused_forward(tq.int_quant, nonneg)
        done += 1
    return done


def unfuse_quantizers(model: nn.Module) -> int:
    """Back to Brevitas' own ops (for a comparison); how many were fused."""
    done = 0
    for mod in model.modules():
        if "forward" in vars(mod) and getattr(mod.forward, "__qualname__", "").startswith("_fused_forward"):
            del mod.forward
            done += 1
    return done
