"""`hwsqueeze simulate`: the generated HLS C++ (cppsim) and RTL (Verilator) of a build, bit-exact
against FINN+'s Python execution of its HW graph, layer by layer and as a network."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import click

from ..errors import VERIFY_FAILED


@click.command()
@click.option("--build", "build_dir", required=True, type=click.Path(file_okay=False, exists=True),
              help="A build directory (build/<board>) from `hwsqueeze build`.")
@click.option("--images", type=click.IntRange(1), default=2, show_default=True,
              help="Images per layer and through the network (the build's verification images).")
@click.option("--layers", type=click.Choice(["all", "hls", "rtl"]), default="all", show_default=True,
              help="Which layers to simulate one by one.")
@click.option("--network/--no-network", default=True, show_default=True,
              help="Also run the whole network through the simulators alone.")
@click.option("--jobs", type=click.IntRange(1), default=2, show_default=True, help="Parallel g++ compiles.")
@click.option("--inject-fault", "fault", default=None, metavar="LAYER",
              help="Flip one weight in a copy of LAYER's generated sources first (must then fail).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def simulate(build_dir: str, images: int, layers: str, network: bool, jobs: int, fault: Optional[str],
             as_json: bool) -> None:
    """Simulate every HW layer (and the network); writes BUILD/simulation.json; exit 5 unless all bit-exact."""
    from ..simulate.run import Options, simulate as run

    build = Path(build_dir)
    opts = Options(images=images, layers=layers, network=network, jobs=jobs, fault=fault,
                   progress=not as_json and sys.stderr.isatty())
    report = run(build, opts)
    out = report.write(build / ("simulation-fault.json" if fault else "simulation.json"))
    data = report.to_json()
    if as_json:
        click.echo(json.dumps(data))
    else:
        for r in data["layers"]:
            mark = "ok " if r["bit_exact"] else "BAD"
            click.echo(f"  {mark} {r['name']:<34} {r['simulator']:<9} {r['images']} img  {r['note']}")
        if data["network"]:
            n = data["network"]
            click.echo(f"network ({n['simulator']}): {n['images']} images, "
                       f"{'bit-exact' if n['bit_exact'] else 'NOT bit-exact'}, {n['seconds_per_image']} s/image"
                       + (f" ({n['note']})" if n.get("note") else ""))
        click.echo(f"images: {data['images_source']}")
        s = ", ".join(f"{k} {v}" for k, v in data["summary"].items())
        t = data["timing_s"]
        click.echo(f"{s}; simulators built in {t['build_simulators']} s ({t['cached_simulators']} from cache), "
                   f"layers run in {t['layers']} s -> {out}")
        if data["env"]["finn_hlslib_patches"]:
            click.echo("finn-hlslib (build-tree copy) bridged: " + "; ".join(data["env"]["finn_hlslib_patches"]))
    if not report.ok:
        sys.exit(VERIFY_FAILED)
