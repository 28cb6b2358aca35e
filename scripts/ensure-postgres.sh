#!/usr/bin/env bash
# PostgreSQL server binaries for the test suite (tests start their own server on 127.0.0.1).
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "PostgreSQL server binaries are missing; install the Debian package 'postgresql' (needs root)." >&2
  exit 1
fi
echo "Installing PostgreSQL server binaries (apt-get install postgresql)..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null
