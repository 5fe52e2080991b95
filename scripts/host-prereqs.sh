#!/usr/bin/env bash
# Install and start what vllm-fleet needs on the controller (Debian/Ubuntu, as root):
# a Docker engine from the distribution, debootstrap for a local base image, hadolint's and
# systemd-analyze's dependencies come from pip / the distro. Idempotent: rerunning it is cheap.
set -euo pipefail

need_apt=()
command -v dockerd >/dev/null || need_apt+=(docker.io)
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
command -v systemd-analyze >/dev/null || need_apt+=(systemd)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
# `haproxy -c` checks the rendered router configuration in the fast tier (tests/router/).
command -v haproxy >/dev/null || need_apt+=(haproxy)
if [ "${#need_apt[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# promtool (checks and unit-tests the alert rules) and prometheus (the tests start it on loopback
# with the generated config) from Debian's `prometheus` package: only the two binaries are
# unpacked, so the controller does not get a Prometheus service.
if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>&1) || {
    apt-get update -qq && (cd "$tmp" && apt-get download -qq prometheus >/dev/null); }
  dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -C "$tmp" ./usr/bin/promtool ./usr/bin/prometheus
  install -m 0755 "$tmp/usr/bin/promtool" "$tmp/usr/bin/prometheus" /usr/local/bin/
  rm -rf "$tmp"
fi

# The engine: no systemd runs on this kind of machine, so start dockerd in the background
# unless one already answers. Its log goes beside the project, not to the terminal.
if ! docker info >/dev/null 2>&1; then
  log=${DOCKERD_LOG:-/var/log/vllm-fleet-dockerd.log}
  nohup dockerd >"$log" 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see $log" >&2; exit 1; }
fi
echo "docker engine $(docker version --format '{{.Server.Version}}') ready"
