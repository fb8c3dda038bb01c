#!/usr/bin/env bash
# make test: every test against a real PostgreSQL started in a temporary
# directory and torn down afterwards, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cxsms-test.XXXXXX")
cleanup() {
  # destroy also removes what pg.sh kept outside $tmp (as root).
  scripts/pg.sh destroy "$tmp/pg" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

CXSMS_TEST_DATABASE_URL=$(scripts/pg.sh start "$tmp/pg")
export CXSMS_TEST_DATABASE_URL
echo "test PostgreSQL: $CXSMS_TEST_DATABASE_URL" >&2

scripts/layers.sh
$GO vet ./...
$GO test -race -count=1 -timeout 15m ./...
# Short fuzz runs: the seed corpus runs in every `go test`; this explores a
# little further each time. The budgets are counts of inputs (about 12 s
# and 5 s here), not durations: with a duration, Go 1.26's fuzzing
# coordinator can fail a clean run with "context deadline exceeded" as the
# time runs out (golang/go#75804, fixed in Go 1.27), and CI did once, on
# FuzzSplit. So is the budget for shrinking a new interesting input: Go's
# default, 60 s, stalled a CI run for 50 s.
$GO test -run=NONE -fuzz=FuzzParse -fuzztime=${FUZZTIME:-500000x} -fuzzminimizetime=10000x ./domain/
$GO test -run=NONE -fuzz=FuzzSplit -fuzztime=${FUZZTIME:-200000x} -fuzzminimizetime=10000x ./domain/
if [ -f tests/browser/package.json ] && [ "${SKIP_BROWSER:-}" != 1 ]; then
  scripts/test-browser.sh
fi
