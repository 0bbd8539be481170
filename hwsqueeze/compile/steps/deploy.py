"""The deploy step: the board's package from the final HW graph."""
from __future__ import annotations

__all__ = ["step_deploy"]


def step_deploy(ctx, model):
    """Assemble deploy/: reference graph, generated weight files, runtime, notebooks, tests."""
    from ..assemble import write_deploy

    from pathlib import Path

    data = ctx.cfg.samples
    trained_on = ctx.state.source.get("data")
    if data is None and trained_on and Path(trained_on).exists():
        data = trained_on  # real test images with true labels, where the training data is at hand
    out = write_deploy(model, ctx.cfg.out_dir, ctx.cfg.board, ctx.state, ctx.design_keys,
                       classes=ctx.state.source.get("classes"),
                       samples=data)
    ctx.log(f"  deploy package: {out} (sample images: {data + ' test split' if data else 'synthetic'})")
    return model
