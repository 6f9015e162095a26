#!/usr/bin/env bash
# Installs the Debian packages that the browser and PostGIS tests use, only where missing.
# Needs root (CI and the dev machines run as root); elsewhere it says what to install and goes on,
# and the tests that need them skip with that reason.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then
  need+=(postgresql postgresql-15-postgis-3)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: missing system packages: ${need[*]} (install them with apt-get as root); tests that need them will skip" >&2
  exit 0
fi
echo "installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
  || echo "warning: apt-get could not install ${need[*]}; tests that need them will skip" >&2
exit 0
