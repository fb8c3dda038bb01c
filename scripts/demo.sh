#!/usr/bin/env bash
# make demo: fake CXone, the service and a burst of reports, end to end.
# The service subscribes itself to the fake (PUBLIC_URL), the fake delivers
# QUEUED/SENT/terminal reports in every form and redelivers what is not
# acknowledged, and we print what arrived.
set -euo pipefail
bin=$1
cd "$(dirname "$0")/.."
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cxsms-demo.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/pg.sh destroy "$tmp/pg" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

DATABASE_URL=$(scripts/pg.sh start "$tmp/pg"); export DATABASE_URL
fake_port=$(free_port); port=$(free_port)
messages=${DEMO_MESSAGES:-300}

CXONE_CLIENT_ID=fake-client-id CXONE_CLIENT_SECRET=fake-client-secret \
  "$bin" fake-cxone --addr "127.0.0.1:$fake_port" --burst "$messages" >"$tmp/fake.out" 2>"$tmp/fake.log" &
pids+=($!)

PORT=$port WEBHOOK_SECRET=demo-secret ADMIN_TOKEN=demo-admin LOG_LEVEL=warn \
  PUBLIC_URL="http://127.0.0.1:$port" CXONE_ALLOW_LOCALHOST=true \
  CXONE_ISSUER="http://127.0.0.1:$fake_port" CXONE_API_URL="http://127.0.0.1:$fake_port" \
  CXONE_CLIENT_ID=fake-client-id CXONE_CLIENT_SECRET=fake-client-secret \
  "$bin" serve >"$tmp/serve.out" 2>"$tmp/serve.log" &
pids+=($!)

echo "fake CXone on :$fake_port, cxsms on :$port; waiting for the burst of $messages messages..."
for _ in $(seq 1 600); do
  grep -q '^burst:' "$tmp/fake.out" && break
  sleep 0.2
done
grep '^burst:' "$tmp/fake.out" || { echo "the burst did not finish; logs:"; tail -20 "$tmp/fake.log" "$tmp/serve.log"; exit 1; }
sleep 1 # let the projections catch up
echo
echo "== carriers (GET /analytics/carriers)"
curl -s "http://127.0.0.1:$port/analytics/carriers"; echo
echo "== projections (GET /admin/projections)"
curl -s -H 'Authorization: Bearer demo-admin' "http://127.0.0.1:$port/admin/projections"; echo
echo "== events in the log"
psql "$DATABASE_URL" -Atc "SELECT format, count(*) FROM events GROUP BY 1 ORDER BY 1" 2>/dev/null || true
