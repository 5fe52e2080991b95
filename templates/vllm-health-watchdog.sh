#!/bin/sh
# vllm-fleet's /health watchdog: one probe per run (a systemd timer runs it).
#   vllm-health-watchdog UNIT URL FAILURES TIMEOUT_S KILL-COMMAND...
# Counts consecutive failed or hung probes of UNIT's current run (its InvocationID), but only
# once that run has answered /health at least once: a model still loading is not a failure. At
# FAILURES it runs KILL-COMMAND; the unit's Restart=always starts the server again.
set -u
unit=$1 url=$2 limit=$3 timeout=$4
shift 4
state_dir=${VLLM_FLEET_WATCHDOG_STATE:-/run/vllm-fleet}
state=$state_dir/watchdog-$unit
mkdir -p "$state_dir"

if [ "$(systemctl is-active "$unit")" != active ]; then
    rm -f "$state"
    exit 0
fi
run=$(systemctl show --property=InvocationID --value "$unit")
seen=0 failures=0 last=
[ -r "$state" ] && read -r last seen failures < "$state"
[ "$last" = "$run" ] || { seen=0; failures=0; }

if curl --silent --fail --output /dev/null --max-time "$timeout" "$url"; then
    seen=1 failures=0
elif [ "$seen" = 1 ]; then
    failures=$((failures + 1))
    echo "$url failed or hung ($failures of $limit in a row)"
fi
if [ "$failures" -ge "$limit" ]; then
    echo "$unit: $url failed $failures probes in a row; killing the server so systemd restarts it"
    "$@" || echo "kill command failed: $*"
    seen=0 failures=0
fi
echo "$run $seen $failures" > "$state"
