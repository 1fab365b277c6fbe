# Shared set-up for scripts/run_demo.sh and scripts/run_tests.sh (sourced, not run).
# Creates .venv (Python >= 3.10) when missing and installs what is missing into it.
# torch: when no torch is importable, installs torch==2.13.0 (a CPU build where the
# local wheel cache has one; set IVAE_TORCH_SPEC to choose another build, e.g. a CUDA one).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "napari-ivae needs Python >= 3.10 (found: $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.x" >&2
    exit 2
fi
if [ ! -x .venv/bin/python ]; then
    echo "creating virtual environment .venv"
    "$PY" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
fi
VPY="$ROOT/.venv/bin/python"
if ! "$VPY" -c 'import torch' >/dev/null 2>&1; then
    echo "installing torch (${IVAE_TORCH_SPEC:-torch==2.13.0})"
    "$VPY" -m pip install --quiet "${IVAE_TORCH_SPEC:-torch==2.13.0}"
fi
ivae_install() {  # $1: extras, e.g. "" or "[all]"
    local stamp=".venv/.ivae-installed$1"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        echo "installing napari-ivae$1 and its dependencies into .venv"
        "$VPY" -m pip install --quiet -e ".$1"
        touch "$stamp"
    fi
}
