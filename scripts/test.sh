#!/usr/bin/env bash
# The test command (README and CI): bootstrap, then pytest with any extra arguments. It lists
# the 20 slowest tests at the end, so a CI log shows where the time goes.
#   scripts/test.sh                 everything, including real image builds and vLLM (minutes)
#   scripts/test.sh -m "not slow"   the fast tier (seconds)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/pytest --durations=20 "$@"
