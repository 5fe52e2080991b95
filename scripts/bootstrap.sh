#!/usr/bin/env bash
# Prepare this machine to run vllm-fleet: system prerequisites (Docker engine, debootstrap) and
# a virtualenv at .venv with the package and its dev tools. Safe to rerun; fast when done.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/host-prereqs.sh
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# Reinstall only when the project's declared dependencies changed.
stamp=.venv/.vllm-fleet-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
  touch "$stamp"
fi
