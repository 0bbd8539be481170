"""A stand-in for ``vitis_hls`` / ``vitis-run`` / ``vivado`` (tests only): checks the TCL it is handed.

Installed by tests/compile/test_vivado_steps.py as executables named after the tools. Appends one
JSON line per call to ``$HWSQUEEZE_STANDIN_LOG``: the tool, its argv and cwd, the TCL files, and
``problems``, everything a real tool would trip over before doing any work:

* every ``$::env(X)`` the TCL uses must be set;
* every file it adds, reads or sources must exist (files the TCL itself creates first, such as the
  block-design wrapper of ``make_wrapper``, excepted);
* HLS: every ``#include "..."`` of the top-level C++ file, followed recursively, must resolve in its
  own folder or the ``-I`` folders (a missing ``-I`` folder alone is only noted, as compilers ignore
  it; headers that only Vitis ships, ``ap_*.h`` / ``hls_*.h``, are not followed);
* every IP repository folder must exist; for the Zynq shell, the board files for the board part the
  TCL selects must be under its board repository paths.

It exits 1 when there is a problem (as the real tool would fail). Otherwise it creates only what FINN
checks for next and what is never a result: the empty IP folder of an HLS project
(``<project>/sol1/impl/ip``), the stitched project's wrapper file, file list and ``ip/`` folder. It
never writes a bitstream, so a build with it ends at FINN's "no bitfile found".
"""
import json
import os
import re
import shlex
import sys
from pathlib import Path

_READS = {"add_files", "source", "read_verilog", "read_vhdl", "read_xdc", "import_files", "read_ip"}
_VITIS_HEADER = re.compile(r"^(ap_|hls_|hls/|etc/|utils/x_hls)")  # shipped by Vitis, not by FINN or finn-hlslib
_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def _subst(text, tclvars, problems):
    def env(m):
        if m.group(1) not in os.environ:
            problems.append(f"env {m.group(1)} unset")
            return f"<unset:{m.group(1)}>"
        return os.environ[m.group(1)]

    text = re.sub(r"\$::env\((\w+)\)", env, text)
    return re.sub(r"\$\{?(\w+)\}?", lambda m: tclvars.get(m.group(1), m.group(0)), text)


def _includes(cpp, dirs, problems, seen):
    """Follow the quoted includes of ``cpp``; count the files looked at."""
    n = 0
    for inc in _INCLUDE.findall(cpp.read_text(errors="replace")):
        if _VITIS_HEADER.match(inc):
            continue
        hit = next((d / inc for d in [cpp.parent] + dirs if (d / inc).is_file()), None)
        n += 1
        if hit is None:
            problems.append(f"#include \"{inc}\" (in {cpp.name}) not found")
        elif hit.resolve() not in seen:
            seen.add(hit.resolve())
            n += _includes(hit, dirs, problems, seen)
    return n


def _board_problems(lines, tclvars, repo_paths):
    """The board files for the board part the Zynq shell TCL selects for $BOARD."""
    board, part, branch = tclvars.get("BOARD"), None, None
    for line in lines:
        m = re.search(r'\{\$BOARD == "([^"]+)"\}', line)
        if m:
            branch = m.group(1)
        m = re.search(r"set_property board_part (\S+)", line)
        if m and branch == board:
            part = m.group(1)
    if board is None or part is None:
        return []
    name = part.split(":")[1]  # vendor:board:part0:version
    for repo in repo_paths:
        if any(name in p.parent.parts for p in Path(repo).rglob("board.xml")):
            return []
    return [f"board files for {part} (BOARD {board}) not found in {repo_paths or 'no board repository path'}"]


def check_tcl(path, cwd):
    """(problems, notes, files looked at, HLS project, outputs the real tool would have made)."""
    tclvars, problems, notes, checked, project = {}, [], [], 0, None
    outputs, repo_paths = [], []
    lines = path.read_text().splitlines()
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = _subst(line, tclvars, problems)
        outputs += re.findall(r"\[open (\S+) w\]", line)  # files the TCL writes itself
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        cmd, args = words[0], words[1:]
        if cmd == "set" and len(args) == 2:
            tclvars[args[0]] = args[1]
        elif cmd == "open_project" and args:
            project = args[-1]
        elif cmd == "lappend" and len(args) == 2 and args[0] == "paths_param":
            repo_paths.append(args[1])
            if not Path(args[1]).is_dir():
                problems.append(f"board repository {args[1]} missing")
        elif cmd == "set_property" and args[:1] == ["ip_repo_paths"]:
            for d in re.findall(r"[^\s\[\]{}]+", " ".join(args[1:])):
                if d.startswith("/") or d.startswith("$"):
                    checked += 1
                    if not (cwd / d).is_dir():
                        problems.append(f"IP repository {d} missing")
        elif cmd == "ipx::package_project" and "-root_dir" in args:
            outputs.append(args[args.index("-root_dir") + 1] + "/")
        elif cmd in _READS:
            it, dirs, srcs = iter(args), [], []
            for a in it:
                if a == "-cflags":
                    for flag in shlex.split(next(it, "")):
                        if flag.startswith("-I"):
                            if (cwd / flag[2:]).is_dir():
                                dirs.append(cwd / flag[2:])
                            else:
                                notes.append(f"include dir {flag[2:]} missing")
                elif not a.startswith("-"):
                    checked += 1
                    if a.endswith("_wrapper.v") and "/bd/" in a:  # written by make_wrapper just before
                        outputs.append(a)
                    elif not (cwd / a).exists():
                        problems.append(f"{cmd} {a}: missing")
                    elif a.endswith(".cpp"):
                        srcs.append(cwd / a)
            for src in srcs:
                checked += _includes(src, dirs, problems, set())
    problems += _board_problems(lines, tclvars, repo_paths)
    return problems, notes, checked, project, outputs


def main():
    tool = Path(sys.argv[0]).name
    cwd = Path.cwd()
    tcls = [Path(a) for a in sys.argv[1:] if a.endswith(".tcl")]
    rec = {"tool": tool, "argv": sys.argv[1:], "cwd": str(cwd), "tcl": [str(t) for t in tcls], "problems": [],
           "notes": [], "checked": 0}
    made = []
    for t in tcls:
        if not (cwd / t).is_file():
            rec["problems"].append(f"tcl {t} missing")
            continue
        problems, notes, checked, project, outputs = check_tcl(cwd / t, cwd)
        rec["problems"] += problems
        rec["notes"] += notes
        rec["checked"] += checked
        made += ([f"{project}/sol1/impl/ip/"] if project else []) + outputs
    if not rec["problems"]:
        for out in made:  # only what FINN looks for next; never a netlist or a bitstream
            p = cwd / out
            if out.endswith("/"):
                p.mkdir(parents=True, exist_ok=True)
            else:
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text("// written by the test stand-in for vivado: not a real file\n")
    with open(os.environ["HWSQUEEZE_STANDIN_LOG"], "a") as f:
        f.write(json.dumps(rec) + "\n")
    return 1 if rec["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
