#!/usr/bin/env bash
# Installs the Debian packages the project needs on a fresh machine (as root). Skips what is there already.
#   hiredis (the Redis client library we bind), Redis and PostgreSQL 15 (the services the tests talk to), PgBouncer
#   (transaction pooling in front of PostgreSQL, for the suite that runs through it),
#   wrk and nginx-light (the gateway benchmark and its baseline), procps (pgrep/ps for tests and benchmarks),
#   chromium and a font (the dashboard check renders the ops page in headless Chromium).
set -euo pipefail
packages=(libhiredis-dev redis-server postgresql-15 postgresql-contrib pgbouncer wrk nginx-light procps pkg-config chromium fonts-liberation python3-venv)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-deps: missing ${missing[*]}; run as root to install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d keeps the packages from starting their own system-wide Redis/PostgreSQL/nginx.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
