#!/usr/bin/env bash
# The README's demo command: bootstrap this machine, then `invoke demo` (build -> deploy -> smoke
# on this machine, no GPU). A second run reuses everything still valid. Tear down with
# `.venv/bin/invoke sandbox.down`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/invoke demo "$@"
