#!/usr/bin/env bash
# Installs the Debian packages the browser, static-map and PostGIS tests use, only where missing:
#   chromium            headless browser for tests/test_browser.py (driven by Python playwright)
#   fonts-wqy-microhei  a CJK font, so Chinese labels render in the static map and screenshots
#   postgresql + postgis  for tests/test_postgis.py
# Needs root (CI and the dev machines run as root); elsewhere it says what to install and goes on,
# and the tests that need them skip with that reason.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  need+=(fonts-wqy-microhei)
fi
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
# Another apt-get may hold the dpkg lock (a parallel `make test`, unattended upgrades): wait for
# it instead of failing at once.
apt=(apt-get -o DPkg::Lock::Timeout=600 -y -qq)
"${apt[@]}" update >/dev/null 2>&1 || true
# One package at a time, so one that cannot be installed does not block the others.
for pkg in "${need[@]}"; do
  "${apt[@]}" install --no-install-recommends "$pkg" >/dev/null 2>&1 \
    || echo "warning: apt-get could not install $pkg; tests that need it will skip" >&2
done
exit 0
