"""After Vivado: its timing summary and utilisation, copied into ``report/`` and read.

FINN+'s ``ZynqBuild`` leaves, in the project folder it records as the model's ``vivado_pynq_proj``
metadata: ``finn_zynq_link.runs/impl_1/top_wrapper_timing_summary_routed.rpt`` (Vivado's
``report_timing_summary`` of the routed design) and, as ``vivado_synth_rpt``, ``synth_report.xml``
(``report_utilization -hierarchical -format xml`` after ``open_run impl_1``). They are copied
under the names FINN+'s builder gives them (``report/post_route_timing.rpt``,
``report/post_synth_report.xml``); the totals of the ``(top)`` row replace the estimate in
``report/resources.json`` and the build summary, labelled as measured. A negative setup (WNS) or
hold (WHS) slack fails the build with :data:`~hwsqueeze.errors.TIMING_FAILED`: such a bitstream
may compute wrong results and is not put into the deploy package.
"""
from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, Optional

from ..errors import TIMING_FAILED, HwsqueezeError

__all__ = ["TIMING_RPT", "UTIL_XML", "parse_timing_summary", "parse_utilisation", "copy_reports", "check_timing"]

TIMING_RPT = "report/post_route_timing.rpt"  # FINN+'s copy_timing_report name
UTIL_XML = "report/post_synth_report.xml"  # FINN+'s copy_synthesis_reports name
_PROJ_TIMING = "finn_zynq_link.runs/impl_1/top_wrapper_timing_summary_routed.rpt"

# "Design Timing Summary" column -> our key (ns figures; endpoint counts are integers)
_TIMING_COLS = {"WNS(ns)": "wns_ns", "TNS(ns)": "tns_ns", "TNS Failing Endpoints": "tns_failing_endpoints",
                "WHS(ns)": "whs_ns", "THS(ns)": "ths_ns", "THS Failing Endpoints": "ths_failing_endpoints",
                "WPWS(ns)": "wpws_ns"}
# hierarchical utilisation column -> our key; 7-series says "DSP48 Blocks", UltraScale "DSP Blocks"
_UTIL_COLS = {"Total LUTs": "lut", "LUTRAMs": "lutram", "SRLs": "srl", "FFs": "ff", "RAMB36": "ramb36",
              "RAMB18": "ramb18", "URAM": "uram", "DSP48 Blocks": "dsp", "DSP Blocks": "dsp"}


def _number(text: str) -> Optional[float]:
    """A figure of the report; Vivado writes ``NA`` where nothing is constrained."""
    try:
        return float(text)
    except ValueError:
        return None


def parse_timing_summary(text: str, source: str = "timing report") -> Dict[str, object]:
    """The "Design Timing Summary" figures of a ``report_timing_summary`` text, and ``met``: Vivado's
    own verdict line ("All user specified timing constraints are met." / "Timing constraints are
    not met."), None when it has neither."""
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.strip() == "| Design Timing Summary"), None)
    head = next((j for j in range(start or 0, min(len(lines), (start or 0) + 12))
                 if lines[j].strip().startswith("WNS(ns)")), None) if start is not None else None
    if head is None:
        raise HwsqueezeError(f"{source} has no 'Design Timing Summary' table (not a Vivado report_timing_summary?)",
                             exit_code=TIMING_FAILED)
    names = re.split(r"\s{2,}", lines[head].strip())
    row = next((ln.split() for ln in lines[head + 2: head + 6] if ln.strip()), [])
    if len(row) != len(names):
        raise HwsqueezeError(f"{source}: the Design Timing Summary row has {len(row)} values for {len(names)} "
                             "columns", exit_code=TIMING_FAILED)
    out: Dict[str, object] = {}
    for name, value in zip(names, row):
        if name in _TIMING_COLS:
            v = _number(value)
            out[_TIMING_COLS[name]] = int(v) if v is not None and name.endswith("Endpoints") else v
    out["met"] = (True if "All user specified timing constraints are met." in text
                  else False if "Timing constraints are not met." in text else None)
    return out


def parse_utilisation(path: Path) -> Dict[str, int]:
    """Design totals (the ``(top)`` row) of Vivado's hierarchical utilisation report in XML, plus
    ``bram18``: BRAM in 18 kb units (2 per RAMB36), the unit of our estimates."""
    try:
        root = ET.parse(str(path)).getroot()
    except (ET.ParseError, OSError) as e:
        raise HwsqueezeError(f"{path} is not a readable utilisation report ({e})") from None
    header = root.find(".//*[@contents='Instance']/..")
    top = next((r for r in root.iter("tablerow")
                if any(c.get("contents", "").strip() == "(top)" for c in r.findall("tablecell"))), None)
    if header is None or top is None:
        raise HwsqueezeError(f"{path} has no utilisation-by-hierarchy table with a (top) row")
    names = [c.get("contents", "").strip() for c in header if c.tag in ("tableheader", "tablecell")]
    cells = [c.get("contents", "").strip() for c in top.findall("tablecell")]
    out = {_UTIL_COLS[n]: int(float(v)) for n, v in zip(names, cells) if n in _UTIL_COLS and _number(v) is not None}
    if "lut" not in out:
        raise HwsqueezeError(f"{path}: no 'Total LUTs' column in its utilisation table")
    out["bram18"] = 2 * out.get("ramb36", 0) + out.get("ramb18", 0)
    return out


def copy_reports(model, out_dir: Path) -> Dict[str, Path]:
    """Copy the routed timing summary and the utilisation XML that ZynqBuild left into
    ``out_dir/report/`` (FINN+'s names); a missing one is an error naming it."""
    proj = model.get_metadata_prop("vivado_pynq_proj")
    util = model.get_metadata_prop("vivado_synth_rpt")
    sources = {TIMING_RPT: Path(proj) / _PROJ_TIMING if proj else None, UTIL_XML: Path(util) if util else None}
    copied = {}
    for rel, src in sources.items():
        if src is None or not src.is_file():
            raise HwsqueezeError(f"Vivado finished but did not leave {src or 'its project folder'}: cannot check "
                                 "timing and utilisation, so the bitstream is not used", exit_code=TIMING_FAILED)
        (Path(out_dir) / rel).parent.mkdir(parents=True, exist_ok=True)
        copied[rel] = Path(shutil.copy(src, Path(out_dir) / rel))
    return copied


def check_timing(timing: Dict[str, object], clock_mhz: float, report: Path) -> None:
    """One clear error when setup or hold slack is negative (or Vivado says timing is not met)."""
    wns, whs = timing.get("wns_ns"), timing.get("whs_ns")
    if wns is None or whs is None:
        raise HwsqueezeError(f"{report}: WNS/WHS not available (unconstrained design?): timing unknown, "
                             "the bitstream is not used", exit_code=TIMING_FAILED)
    if wns < 0:
        raise HwsqueezeError(f"timing not met at {clock_mhz:g} MHz: setup slack WNS {wns:.3f} ns (TNS "
                             f"{timing.get('tns_ns'):.3f} ns, {timing.get('tns_failing_endpoints')} failing endpoints); "
                             f"see {report}; lower the board's clock_mhz or fold less", exit_code=TIMING_FAILED)
    if whs < 0:
        raise HwsqueezeError(f"timing not met at {clock_mhz:g} MHz: hold slack WHS {whs:.3f} ns (THS "
                             f"{timing.get('ths_ns'):.3f} ns, {timing.get('ths_failing_endpoints')} failing endpoints); "
                             f"see {report}", exit_code=TIMING_FAILED)
    if timing.get("met") is False:
        raise HwsqueezeError(f"Vivado reports 'Timing constraints are not met' (WNS {wns:.3f} ns, WHS {whs:.3f} ns; "
                             f"pulse width?); see {report}", exit_code=TIMING_FAILED)
