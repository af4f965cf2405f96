#!/usr/bin/env bash
# Install pg_cron into the local Debian PostgreSQL cluster and preload it, with
# cron.database_name = queue_worker_cron (the database tests/sql/test_pg_cron.py
# migrates). Idempotent: does nothing that is already done.
set -euo pipefail
url="$1"
version=$(ls /etc/postgresql | sort -V | tail -n 1)
if [ ! -f "/usr/lib/postgresql/$version/lib/pg_cron.so" ]; then
  echo "installing postgresql-$version-cron"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$version-cron") >/dev/null
fi
restart() {
  pg_ctlcluster --skip-systemctl-redirect "$version" main restart
  for _ in $(seq 1 30); do pg_isready -q -d "$url" && break; sleep 1; done
}
# Two steps: cron.database_name is unknown (ALTER SYSTEM refuses it) until pg_cron is loaded.
if [[ "$(psql "$url" -Atc "show shared_preload_libraries")" != *pg_cron* ]]; then
  echo "preloading pg_cron and restarting PostgreSQL $version"
  psql "$url" -qc "alter system set shared_preload_libraries = 'pg_cron'"
  restart
fi
if [[ "$(psql "$url" -Atc "select current_setting('cron.database_name', true)")" != "queue_worker_cron" ]]; then
  echo "setting cron.database_name = queue_worker_cron and restarting PostgreSQL $version"
  psql "$url" -qc "alter system set cron.database_name = 'queue_worker_cron'"
  restart
fi
psql "$url" -Atc "show shared_preload_libraries"
