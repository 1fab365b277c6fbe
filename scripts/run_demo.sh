#!/usr/bin/env bash
# The main job: the headless demo on the bundled sample data, figures into results/.
# Creates .venv and installs what is missing on first use.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
ivae_install ""
exec .venv/bin/ivae demo --out "${1:-results}"
