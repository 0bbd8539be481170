"""The deploy step: the board's package from the final HW graph."""
from __future__ import annotations

__all__ = ["step_deploy"]


def step_deploy(ctx, model):
    """Assemble deploy/: reference graph, generated weight files, runtime, notebooks, tests."""
    from ..assemble import write_deploy

    out = write_deploy(model, ctx.cfg.out_dir, ctx.cfg.board, ctx.state, classes=ctx.state.source.get("classes"))
    ctx.log(f"  deploy package: {out}")
    return model
