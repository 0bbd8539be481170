"""`hwsqueeze export` (needs the model and checkpoint code, never the training loop)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import click

MAX_CHECK_N = 1000


@click.command()
@click.option("--checkpoint", default=None,
              help="A checkpoint file or a shipped model's name (`hwsqueeze models`); default: the shipped default.")
@click.option("--out", required=True, help="QONNX file to write.")
@click.option("--check-n", type=int, default=4, show_default=True, help="Generated images for the check.")
@click.option("--json", "as_json", is_flag=True)
def export(checkpoint: Optional[str], out: str, check_n: int, as_json: bool) -> None:
    """Export to QONNX (brevitas export_qonnx + qonnx cleanup) and check it against Brevitas.

    The check runs qonnx execution and Brevitas on CHECK_N images: top-1 must be identical and
    max |diff| at float rounding level, else nothing is written and the command fails.
    """
    from ..errors import HwsqueezeError
    from ..train.validate import check_writable

    if not 1 <= check_n <= MAX_CHECK_N:
        raise HwsqueezeError(f"--check-n {check_n}: must be in 1..{MAX_CHECK_N} (each image is a full "
                             "QONNX execution)")
    check_writable(out, "--out")
    from ..train.shipped import checkpoint_path

    checkpoint = str(checkpoint_path(checkpoint)) if checkpoint is not None else None
    if checkpoint is not None and Path(checkpoint).is_dir():
        raise HwsqueezeError(f"--checkpoint {checkpoint}: is a directory, expected a file")
    from ..export import export_qonnx
    from ..train.checkpoint import DEFAULT_CHECKPOINT, model_from_checkpoint

    model, _ = model_from_checkpoint(Path(checkpoint) if checkpoint else None)
    res = export_qonnx(model, Path(out), check_n=check_n)
    info = {"out": out, "checkpoint": str(checkpoint or DEFAULT_CHECKPOINT), "check": res.to_dict()}
    if as_json:
        click.echo(json.dumps(info))
    else:
        click.echo(f"wrote {out}: QONNX vs Brevitas on {res.n} images, max |diff| {res.max_abs_diff:.2g}, "
                   f"top-1 identical")
