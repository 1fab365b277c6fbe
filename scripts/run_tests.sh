#!/usr/bin/env bash
# The test suite (core + napari widgets under a virtual X display).
# Creates .venv and installs what is missing on first use. GUI tests need Xvfb + Mesa
# (Debian: see .ci/run); pytest-xvfb starts the virtual display by itself.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
ivae_install "[all]"
if ! command -v Xvfb >/dev/null 2>&1; then
    echo "warning: Xvfb is not installed; the napari widget tests need it (see .ci/run for the Debian packages)" >&2
fi
exec .venv/bin/python -m pytest "$@"
