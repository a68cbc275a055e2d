#!/usr/bin/env bash
# Run the test suite on SQLite, on PostgreSQL, or on both (the default).
# pytest exits 5 when it collects no test: that is a failure here, never a silent pass.
set -uo pipefail
cd "$(dirname "$0")/.."
which_db="${1:-both}"
pg_url="${PG_TEST_URL:-postgres://postgres@127.0.0.1:5432/jindu_test}"
status=0

run() {
  local label="$1" marks="$2"; shift 2
  echo "=== tests on ${label} ==="
  env "$@" .venv/bin/pytest --create-db -m "$marks"
  local rc=$?
  if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests on ${label}: failing" >&2
    rc=1
  fi
  [ "$rc" -ne 0 ] && status=$rc
}

# Tests marked `embedded` run the jindu command on their own SQLite installation whatever DATABASE_URL says
# (the demo, the CLI, a real worker): when both databases are tested they run once, in the SQLite pass.
if [ "$which_db" = "sqlite" ] || [ "$which_db" = "both" ]; then
  run sqlite "" DATABASE_URL=
fi
if [ "$which_db" = "postgres" ]; then
  run postgresql "" DATABASE_URL="$pg_url"
elif [ "$which_db" = "both" ]; then
  run postgresql "not embedded" DATABASE_URL="$pg_url"
fi
exit $status
