#!/usr/bin/env bash
# Installs the Debian packages the browser, static-map and PostGIS tests use, only where missing:
#   chromium                     headless browser for tests/test_browser.py (Python playwright)
#   fonts-wqy-microhei           a CJK font, so Chinese labels render in the static map
#   postgresql + postgresql-<major>-postgis-3   for tests/test_postgis.py; the PostGIS package is
#                                the one of the PostgreSQL major version installed (or, if none
#                                is, of the version the `postgresql` package would install)
# Fails (exit 1, saying what and why) when a needed package cannot be installed: without them the
# README's component tests would fail anyway, and later, less clearly.  SITEPLAN_ALLOW_SKIP
# (e.g. chromium,postgis,cjk_font or all; see tests/skip_policy.py) names components that may be
# missing: those are then only reported, and their tests skip.
set -u
allow=",${SITEPLAN_ALLOW_SKIP:-},"
allowed() { [[ "$allow" == *",all,"* || "$allow" == *",$1,"* ]]; }

need=()          # packages to install
component=()     # the component each one is for (parallel to need)
add() { need+=("$1"); component+=("$2"); }

command -v chromium >/dev/null 2>&1 || add chromium chromium
fc-list :lang=zh 2>/dev/null | grep -q . || add fonts-wqy-microhei cjk_font
postgis_missing=0
ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || postgis_missing=1
[ ${#need[@]} -eq 0 ] && [ $postgis_missing -eq 0 ] && exit 0

fail() {  # what failed, for which component
  if allowed "$2"; then
    echo "note: $1; its tests skip (SITEPLAN_ALLOW_SKIP allows $2)" >&2
  else
    echo "error: $1. Install it as root (apt-get), or let its tests skip with SITEPLAN_ALLOW_SKIP=$2" >&2
    status=1
  fi
}
status=0
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  for i in "${!need[@]}"; do fail "missing system package ${need[$i]} (not root, or no apt-get)" "${component[$i]}"; done
  [ $postgis_missing -eq 1 ] && fail "missing PostgreSQL/PostGIS (not root, or no apt-get)" postgis
  exit $status
fi
export DEBIAN_FRONTEND=noninteractive
# Another apt-get may hold the dpkg lock (a parallel `make test`, unattended upgrades): wait.
apt=(apt-get -o DPkg::Lock::Timeout=600 -y -qq)
if ! "${apt[@]}" update >/tmp/siteplan-apt-update.log 2>&1; then
  echo "warning: apt-get update failed (see /tmp/siteplan-apt-update.log); trying the package lists there are" >&2
fi
if [ $postgis_missing -eq 1 ]; then
  # The PostgreSQL major version: the installed server's, else the one `postgresql` depends on.
  major=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
  if [ -z "$major" ]; then
    major=$(apt-cache depends postgresql 2>/dev/null | sed -n 's/.*Depends: postgresql-\([0-9][0-9]*\)$/\1/p' | head -1)
    add postgresql postgis
  fi
  if [ -z "$major" ]; then
    fail "cannot tell which PostgreSQL version to install PostGIS for (apt-cache knows no postgresql package)" postgis
  else
    add "postgresql-$major-postgis-3" postgis
  fi
fi
echo "installing system packages: ${need[*]}"
# One package at a time, so that the message names the one that failed.
for i in "${!need[@]}"; do
  if ! "${apt[@]}" install --no-install-recommends "${need[$i]}" >"/tmp/siteplan-apt-${need[$i]}.log" 2>&1; then
    fail "apt-get could not install ${need[$i]} (see /tmp/siteplan-apt-${need[$i]}.log)" "${component[$i]}"
  fi
done
exit $status
