#!/usr/bin/env bash
# Run the test suite on SQLite, on PostgreSQL, or on both (the default).
# pytest exits 5 when it collects no test: that is a failure here, never a silent pass.
set -uo pipefail
cd "$(dirname "$0")/.."
which_db="${1:-both}"
pg_url="${PG_TEST_URL:-postgres://postgres@127.0.0.1:5432/jindu_test}"
status=0

run() {
  local label="$1"; shift
  echo "=== tests on ${label} ==="
  env "$@" .venv/bin/pytest --create-db
  local rc=$?
  if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests on ${label}: failing" >&2
    rc=1
  fi
  [ "$rc" -ne 0 ] && status=$rc
}

if [ "$which_db" = "sqlite" ] || [ "$which_db" = "both" ]; then
  run sqlite DATABASE_URL=
fi
if [ "$which_db" = "postgres" ] || [ "$which_db" = "both" ]; then
  run postgresql DATABASE_URL="$pg_url"
fi
exit $status
