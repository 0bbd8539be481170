"""Fork/concat-aware streamlining: what FINN's default ``Streamline`` leaves at Fire modules.

FINN's Streamline stops at graph forks (squeeze -> two expand convs) and joins (Concat), leaving
float scale Muls there that cannot be mapped to hardware. These passes repeat the missing moves
until the graph stops changing: qonnx's ``ComposedTransformation`` applies each move until it
reports no change, and ``model.transform`` repeats the whole sequence while any move did.
"""
from __future__ import annotations

from typing import Tuple

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.transformation.composed import ComposedTransformation

__all__ = ["StreamlineForksAndJoins", "MoveTransposesThroughForksAndJoins"]


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

        model = model.transform(Streamline())
        model = model.transform(ComposedTransformation([MoveLinearPastFork(), MoveMulPastJoinConcat(),
                                                        MoveAddPastJoinConcat(), MoveScalarLinearPastInvariants(),
                                                        Streamline()]))
        return model, False  # already a fixed point; FINN's own Streamline answers the same


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

        passes = [MakeMaxPoolNHWC(), AbsorbTransposeIntoMultiThreshold(), MoveTransposePastFork(),
                  MoveTransposePastJoinConcat(), AbsorbConsecutiveTransposes(), MoveScalarLinearPastInvariants()]
        return model.transform(ComposedTransformation(passes)), False  # already a fixed point
