"""Fork/concat-aware streamlining: what FINN's default ``Streamline`` leaves at Fire modules.

FINN's Streamline stops at graph forks (squeeze -> two expand convs) and joins (Concat), leaving
float scale Muls there that cannot be mapped to hardware. These passes repeat the missing moves
until the graph stops changing (a fixed point, not a guessed number of rounds).
"""
from __future__ import annotations

from typing import List, Tuple

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

__all__ = ["StreamlineForksAndJoins", "MoveTransposesThroughForksAndJoins", "fixed_point"]

_MAX_ROUNDS = 50


def fixed_point(model: ModelWrapper, passes: List[Transformation]) -> Tuple[ModelWrapper, bool]:
    """Apply ``passes`` in order, repeatedly, until a full round changes nothing."""
    any_change = False
    for _ in range(_MAX_ROUNDS):
        before = model.model.SerializeToString()
        for p in passes:
            model = model.transform(p)
        if model.model.SerializeToString() == before:
            return model, any_change
        any_change = True
    raise RuntimeError(f"streamlining did not converge in {_MAX_ROUNDS} rounds")


class StreamlineForksAndJoins(Transformation):
    """FINN ``Streamline`` plus moving scalar/channelwise linear ops past forks and Concat joins."""

    def apply(self, model: ModelWrapper) -> Tuple[ModelWrapper, bool]:
        from finn.transformation.streamline import Streamline
        from finn.transformation.streamline.reorder import (
            MoveAddPastJoinConcat,
            MoveLinearPastFork,
            MoveMulPastJoinConcat,
            MoveScalarLinearPastInvariants,
        )

        before = model.model.SerializeToString()
        model = model.transform(Streamline())
        model, _ = fixed_point(model, [MoveLinearPastFork(), MoveMulPastJoinConcat(), MoveAddPastJoinConcat(),
                                       MoveScalarLinearPastInvariants(), Streamline()])
        # The result is a fixed point, so a second application reports False and qonnx's
        # ``transform`` loop stops after one extra (no-op) round.
        return model, model.model.SerializeToString() != before


class MoveTransposesThroughForksAndJoins(Transformation):
    """After ``LowerConvsToMatMul``: push NCHW<->NHWC Transposes through forks/joins until they cancel."""

    def apply(self, model: ModelWrapper) -> Tuple[ModelWrapper, bool]:
        from finn.transformation.streamline.absorb import (
            AbsorbConsecutiveTransposes,
            AbsorbTransposeIntoMultiThreshold,
        )
        from finn.transformation.streamline.reorder import (
            MakeMaxPoolNHWC,
            MoveScalarLinearPastInvariants,
            MoveTransposePastFork,
            MoveTransposePastJoinConcat,
        )

        return fixed_point(model, [MakeMaxPoolNHWC(), AbsorbTransposeIntoMultiThreshold(), MoveTransposePastFork(),
                                   MoveTransposePastJoinConcat(), AbsorbConsecutiveTransposes(),
                                   MoveScalarLinearPastInvariants()])
