#!/usr/bin/env bash
# Debian packages the project needs beyond Python: Chromium (browser tests, driven by
# Playwright through executable_path), fonts covering Latin and CJK text (PDFs), the pgSphere
# extension of the machine's PostgreSQL (ADQL geometry in the archive's TAP service) and STILTS
# (its taplint validates that service in the tests).
# Installs only what is missing; needs root (or sudo) the first time.
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || need+=(fonts-noto-cjk)
fc-list 2>/dev/null | grep -qi "DejaVu Sans" || need+=(fonts-dejavu-core)
ldconfig -p | grep -q libpango-1.0 || need+=(libpango-1.0-0 libpangoft2-1.0-0)
if command -v pg_config >/dev/null 2>&1 || ls /usr/lib/postgresql >/dev/null 2>&1; then
  pgv="$(ls /usr/lib/postgresql | sort -n | tail -1)"
  [ -f "/usr/share/postgresql/$pgv/extension/pg_sphere.control" ] || need+=("postgresql-$pgv-pgsphere")
fi
command -v stilts >/dev/null 2>&1 || need+=(stilts)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing system packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
fi
# pgSphere 1.1.1 (Debian 12) gives its two DaCHS-compatibility "@" operators on smoc a
# commutator and negator that other operators already claim, which PostgreSQL 15.20 refuses
# ("commutator operator @> is already the commutator of operator <@"): CREATE EXTENSION fails.
# Those two clauses are dropped (the operators stay; nothing of ours uses them).
for script in /usr/share/postgresql/*/extension/pg_sphere--1.2.0.sql; do
  [ -f "$script" ] || continue
  marker="backwards-compatible operators for GAVO DaCHS"
  if sed -n "/$marker/,\$ {/^CREATE OPERATOR @ (/,/^);/p}" "$script" | grep -q "COMMUTATOR"; then
    $SUDO sed -i "/$marker/,\$ {/^CREATE OPERATOR @ (/,/^);/ {/COMMUTATOR\|NEGATOR/d}}" "$script"
  fi
done
