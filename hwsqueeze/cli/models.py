"""`hwsqueeze models` and `hwsqueeze size`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional

import click

from ..errors import HwsqueezeError

if TYPE_CHECKING:
    from rich.console import Console


def _fmt_bytes(b: float) -> str:
    return f"{b / 1e6:.3f} MB" if b >= 1e5 else f"{b / 1e3:.1f} kB"


COLUMNS = ("name", "input", "classes", "params", "weights", "MACs")
TITLE = "hwsqueeze models (params = weights + biases, paper form)"


def model_rows() -> List[Dict[str, Any]]:
    """One row per registered model, counted in the paper's form (conv biases, no BatchNorm;
    a teacher's or peer's BatchNorm counts as one bias per channel)."""
    from ..models import ARCHS, PEERS, TEACHERS, create

    rows = []
    for name in sorted(ARCHS) + sorted(TEACHERS) + sorted(PEERS):  # teachers: float, for --teacher
        p = PEERS.get(name)
        paper = create(name, f"w{p.weight_bits}a{p.act_bits}" if p else "float", norm=name not in ARCHS)
        rows.append({"name": name, "input": f"{paper.arch.input_size}x{paper.arch.input_size}x3",
                     "classes": paper.arch.num_classes, "params": paper.paper_param_count(),
                     "weights": paper.weight_count(), "macs": paper.macs()})
    return rows


def _cells(rows: List[Dict[str, Any]]) -> List[List[str]]:
    return [[r["name"], r["input"], str(r["classes"]), f"{r['params']:,}", f"{r['weights']:,}", f"{r['macs']:,}"]
            for r in rows]


def plain_table(rows: List[Dict[str, Any]]) -> str:
    """Space-aligned text: names left, numbers right, nothing ever shortened."""
    table = [list(COLUMNS)] + _cells(rows)
    widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS))]
    fmt = lambda r: "  ".join(c.ljust(w) if i < 2 else c.rjust(w)  # noqa: E731
                              for i, (c, w) in enumerate(zip(r, widths))).rstrip()
    return "\n".join([TITLE] + [fmt(r) for r in table])


def print_models(rows: List[Dict[str, Any]], console: "Console") -> None:
    """A rich table on a terminal wide enough for it; plain aligned text otherwise (pipes, files,
    narrow terminals), because rich shortens cells that do not fit ("1,248,4…")."""
    from rich.table import Table

    t = Table(title=TITLE)
    for col in COLUMNS:
        t.add_column(col, justify="left" if col in ("name", "input") else "right", no_wrap=True)
    for cells in _cells(rows):
        t.add_row(*cells)
    natural = console.measure(t, options=console.options.update_width(10_000)).maximum  # unshrunk width
    if console.is_terminal and natural <= console.width:
        console.print(t)
    else:
        console.print(plain_table(rows), markup=False, highlight=False, crop=False, soft_wrap=True)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def models(as_json: bool) -> None:
    """List registered models (paper-form weight+bias count, weights, MACs per image), then the
    shipped trained models."""
    rows = model_rows()
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    from rich.console import Console

    print_models(rows, Console())
    click.echo(shipped_lines())


def shipped_lines() -> str:
    """The trained models in the wheel, by the name ``--checkpoint`` takes, with their top-1."""
    from ..train.shipped import DEFAULT, SHIPPED, shipped_summary

    lines = ["Shipped trained models (--checkpoint NAME; top-1 on the shared CIFAR-10 JPEG copy):"]
    for name in SHIPPED:
        s = shipped_summary(name)
        figures = (f"top-1 {100 * s['test_top1']:.2f} %, {s['weight_bytes'] / 1e3:.0f} kB of weights" if s
                   else "figures missing")
        lines.append(f"  {name}{' (default)' if name == DEFAULT else ''}: {figures}; {SHIPPED[name]}")
    return "\n".join(lines)


@click.command()
@click.option("--model", "model_name", default=None, help="Registered model (default: the checkpoint's).")
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None,
              help="Count this checkpoint's (or shipped model's) actual quantized, possibly pruned weights.")
@click.option("--wbits", type=int, default=None, help="Weight bits for every layer (default: the model's spec).")
@click.option("--sparsity", type=float, default=None, help="Prune to this fraction of zeros by magnitude first.")
@click.option("--index-bits", type=int, default=4, show_default=True, help="Relative-index gap width.")
@click.option("--json", "as_json", is_flag=True)
def size(model_name: Optional[str], checkpoint: Optional[str], wbits: Optional[int], sparsity: Optional[float],
         index_bits: int, as_json: bool) -> None:
    """Exact weight storage: float32, dense low-bit, and Deep-Compression-style sparse bytes."""
    from torch import nn

    from ..compress import weight_storage
    from ..models import create

    if sparsity is not None and not 0.0 <= sparsity < 1.0:
        raise HwsqueezeError(f"--sparsity {sparsity}: must be in [0, 1)")
    if wbits is not None and not 1 <= wbits <= 32:
        raise HwsqueezeError(f"--wbits {wbits}: must be in 1..32")
    if not 1 <= index_bits <= 32:
        raise HwsqueezeError(f"--index-bits {index_bits}: must be in 1..32")
    if checkpoint or model_name is None:
        from ..train import model_from_checkpoint
        from ..train.shipped import checkpoint_path

        checkpoint = str(checkpoint_path(checkpoint)) if checkpoint else None

        model, ck = model_from_checkpoint(Path(checkpoint) if checkpoint else None)
        if model_name and model_name != ck["config"]["model"]:
            raise HwsqueezeError(f"checkpoint is {ck['config']['model']}, not {model_name}")
        model_name = ck["config"]["model"]
    else:
        try:
            model = create(model_name, "float", norm=False)
        except ValueError as e:  # an unknown name: the registry lists the known ones
            raise HwsqueezeError(f"--model: {e}") from None
    if not hasattr(model, "spec"):  # a teacher or the peer: its storage is not what this tool ships
        raise HwsqueezeError(f"size counts the SqueezeNet models; {model_name} is a {type(model).__name__}")
    spec = model.spec
    layers, bits = {}, {}
    biases = 0
    for name, m in model.named_modules():
        if isinstance(m, nn.BatchNorm2d):
            biases += m.num_features  # folds into one bias per channel
        if not isinstance(m, nn.Conv2d):
            continue
        if m.bias is not None:
            biases += m.bias.numel()
        if hasattr(m, "quant_weight") and not spec.is_float and wbits is None:
            qw = m.quant_weight()
            layers[name] = qw.int().detach().numpy()
            bits[name] = int(qw.bit_width)
        else:
            layers[name] = m.weight.detach().numpy()
            default = 8 if spec.is_float else (spec.weight_bits or 8)
            bits[name] = wbits or default
    res = weight_storage(layers, biases, bits, sparsity=sparsity, index_bits=index_bits)
    tot = res["total"]
    out = {"model": model_name, "checkpoint": checkpoint, "weights": tot["weights"], "biases": biases,
           "nonzero": tot["nonzero"], "float32_bytes": tot["float32_bytes"], "dense_lowbit_bytes": tot["dense_bytes"],
           "sparse_bytes": tot["sparse_bytes"], "sparse_huffman_bytes": tot["sparse_huffman_bytes"],
           "bits": sorted(set(bits.values())), "sparsity": 1 - tot["nonzero"] / max(1, tot["weights"]),
           "encoding": res["encoding"]}
    if as_json:
        click.echo(json.dumps(out))
        return
    f32 = out["float32_bytes"]
    click.echo(f"{out['weights']:,} weights + {biases:,} biases; bits {out['bits']}; sparsity {out['sparsity']:.1%}")
    for label, key in (("float32", "float32_bytes"), ("dense low-bit", "dense_lowbit_bytes"),
                       ("sparse (relative index)", "sparse_bytes"), ("sparse + Huffman (entropy)", "sparse_huffman_bytes")):
        click.echo(f"  {label:28s} {_fmt_bytes(out[key]):>12s}   {f32 / max(out[key], 1):6.1f}x")
    click.echo(f"  encoding: {out['encoding']}")
