"""`hwsqueeze deps fetch|status`: FINN+'s external dependencies (finn-hlslib, board files,
nlohmann-json ...) for a Vivado build, installed once into the cache that the build points FINN+ at."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, Optional, Tuple

import click

from ..errors import BAD_INPUT, HwsqueezeError


def _sha_pins(values: Tuple[str, ...]) -> Dict[str, str]:
    out = {}
    for v in values:
        name, sep, hexd = v.partition("=")
        if not sep or len(hexd) != 64 or any(c not in "0123456789abcdefABCDEF" for c in hexd):
            raise HwsqueezeError(f"--sha256 {v!r}: expected NAME=<64 hex digits>", BAD_INPUT)
        out[name] = hexd.lower()
    return out


@click.group()
def deps() -> None:
    """FINN+'s external dependencies for a Vivado build (pins: FINN+'s own external_dependencies.yaml).

    Cache: $HWSQUEEZE_CACHE/finn-deps/<finn-plus version> (default ~/.cache/hwsqueeze/...).
    """


@deps.command()
@click.argument("names", nargs=-1)
@click.option("--from", "source", type=click.Path(), default=None,
              help="Take them from this folder of clones / archives instead of the internet "
                   "(default: $HWSQUEEZE_DEPS_FROM).")
@click.option("--sha256", "shas", multiple=True, metavar="NAME=HEX",
              help="Pin the sha256 of a direct download (FINN+ pins only its URL).")
@click.option("--json", "as_json", is_flag=True, help="Print the installed entries as one JSON object.")
def fetch(names: Tuple[str, ...], source: Optional[str], shas: Tuple[str, ...], as_json: bool) -> None:
    """Install NAMES (default: what a hwsqueeze Vivado build needs) into the cache."""
    from ..deps.fetch import fetch as run
    from ..deps.pins import FROM_ENV, cache_dir

    src = source or os.environ.get(FROM_ENV) or None
    entries = run(list(names) or None, Path(src) if src else None, _sha_pins(shas))
    if as_json:
        click.echo(json.dumps({"cache": str(cache_dir()), "deps": entries}))
    else:
        click.echo(f"installed in {cache_dir()} (hwsqueeze build points FINN_DEPS here)")


@deps.command()
@click.option("--all", "everything", is_flag=True, help="Every dependency FINN+ defines, not only hwsqueeze's.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status(everything: bool, as_json: bool) -> None:
    """What is installed in the cache: pinned, substitute (another commit, on purpose) or missing."""
    from ..deps.manifest import status as rows_of
    from ..deps.pins import cache_dir, default_names, load_pins

    pins = load_pins()
    rows = rows_of(names=None if everything else default_names(pins), pins=pins)
    if as_json:
        click.echo(json.dumps({"cache": str(cache_dir()), "deps": rows}))
        return
    click.echo(f"cache: {cache_dir()}")
    for r in rows:
        what = {"pinned": "ok (pinned)", "recorded": "ok (sha256 recorded)"}.get(r["state"], r["state"].upper())
        ver = (r["commit"] or "")[:12] or (r["sha256"] or "")[:12]
        extra = f"; patched: {'; '.join(r['patches'])}" if r["patches"] else ""
        click.echo(f"  {r['name']:<18} {what:<22} {ver:<12}  {r['detail']}{extra}")
