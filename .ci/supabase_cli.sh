#!/usr/bin/env bash
# The real Supabase CLI against a fresh database of the machine's PostgreSQL: `supabase db push`
# applies supabase/migrations, a second push must find nothing to do, and `supabase db lint`
# (plpgsql_check) must report no error. Usage: .ci/supabase_cli.sh ADMIN_URL, where ADMIN_URL
# is postgresql://user@host:port/dbname without a query. Installs only what is missing.
set -euo pipefail
admin_url="$1"
cli_version=2.117.0
cli_dir=.ci/.supabase-cli
supabase="$cli_dir/node_modules/.bin/supabase"
db=qw_supabase_cli
# sslmode=disable: the local server has no TLS, and the CLI would otherwise insist on it.
db_url="${admin_url%/*}/$db?sslmode=disable"

pg_version=$(ls /etc/postgresql | sort -V | tail -n 1)
if [ ! -f "/usr/share/postgresql/$pg_version/extension/plpgsql_check.control" ]; then
  echo "installing postgresql-$pg_version-plpgsql-check"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    "postgresql-$pg_version-plpgsql-check") >/dev/null
fi
# The npm package's binary is its optional dependency @supabase/cli-<os>-<arch>, no postinstall download.
if [ "$("$supabase" --version 2>/dev/null || true)" != "$cli_version" ]; then
  echo "installing supabase@$cli_version from npm into $cli_dir"
  mkdir -p "$cli_dir"
  npm install --prefix "$cli_dir" --save-exact --no-audit --no-fund --loglevel=error \
    "supabase@$cli_version" >/dev/null
fi

psql "$admin_url" -q -c "drop database if exists $db with (force)" -c "create database $db"
echo "supabase db push (fresh database $db)"
"$supabase" db push --db-url "$db_url" --yes
echo "supabase db push again: must have nothing to do"
again=$("$supabase" db push --db-url "$db_url" --yes 2>&1)
echo "$again"
if [[ "$again" != *"Remote database is up to date."* ]]; then
  echo "FAIL: the second supabase db push did not report the database up to date" >&2
  exit 1
fi
echo "supabase db lint (plpgsql_check; any error fails)"
"$supabase" db lint --db-url "$db_url" --level error --fail-on error
psql "$admin_url" -q -c "drop database $db with (force)"
