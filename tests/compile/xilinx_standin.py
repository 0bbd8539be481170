"""A stand-in for ``vitis_hls`` / ``vivado`` (tests only): records the TCL it is handed and checks it.

Installed by tests/compile/test_vivado_steps.py as executables named after the tools. Appends one
JSON line per call to ``$HWSQUEEZE_STANDIN_LOG``: the tool, its argv and cwd, the TCL files, and
``problems``: every ``$::env(X)`` that is unset and every file/include folder the TCL reads,
sources or adds that does not exist. For ``vitis_hls`` it then creates the empty folder FINN looks
for (``<project>/sol1/impl/ip``) so that FINN moves on to the next layer: no IP is produced.
"""
import json
import os
import re
import shlex
import sys
from pathlib import Path

_READS = {"add_files", "source", "read_verilog", "read_vhdl", "read_xdc", "import_files", "read_ip", "add_files"}


def _subst(text, tclvars, problems):
    def env(m):
        if m.group(1) not in os.environ:
            problems.append(f"env {m.group(1)} unset")
            return f"<unset:{m.group(1)}>"
        return os.environ[m.group(1)]

    text = re.sub(r"\$::env\((\w+)\)", env, text)
    return re.sub(r"\$\{?(\w+)\}?", lambda m: tclvars.get(m.group(1), m.group(0)), text)


def check_tcl(path: Path, cwd: Path):
    tclvars, problems, checked, project = {}, [], 0, None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            words = shlex.split(_subst(line, tclvars, problems))
        except ValueError:
            continue
        cmd, args = words[0], words[1:]
        if cmd == "set" and len(args) == 2:
            tclvars[args[0]] = args[1]
        elif cmd == "open_project" and args:
            project = args[-1]
        elif cmd in _READS:
            it = iter(args)
            for a in it:
                if a == "-cflags":
                    for flag in shlex.split(next(it, "")):
                        if flag.startswith("-I"):
                            checked += 1
                            if not (cwd / flag[2:]).is_dir():
                                problems.append(f"include dir {flag[2:]} missing")
                elif not a.startswith("-"):
                    checked += 1
                    if not (cwd / a).exists():
                        problems.append(f"{cmd} {a}: missing")
    return problems, checked, project


def main():
    tool = Path(sys.argv[0]).name
    cwd = Path.cwd()
    tcls = [Path(a) for a in sys.argv[1:] if a.endswith(".tcl")]
    rec = {"tool": tool, "argv": sys.argv[1:], "cwd": str(cwd), "tcl": [str(t) for t in tcls], "problems": [],
           "checked": 0}
    for t in tcls:
        if not (cwd / t).is_file():
            rec["problems"].append(f"tcl {t} missing")
            continue
        problems, checked, project = check_tcl(cwd / t, cwd)
        rec["problems"] += problems
        rec["checked"] += checked
        if tool == "vitis_hls" and project:
            (cwd / project / "sol1" / "impl" / "ip").mkdir(parents=True, exist_ok=True)
    with open(os.environ["HWSQUEEZE_STANDIN_LOG"], "a") as f:
        f.write(json.dumps(rec) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
