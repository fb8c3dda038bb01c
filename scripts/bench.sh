#!/usr/bin/env bash
# make bench: one command, one markdown table on stdout (progress on stderr).
#
#   scripts/bench.sh BIN
#
# Starts its own PostgreSQL (scripts/pg.sh, in a temporary directory, stopped
# at exit) and measures, on that one cluster:
#   1. PostgreSQL's own ceiling, with pgbench (found next to the server):
#      single-row INSERT ... ON CONFLICT DO NOTHING and 100-row batches into
#      bench_events, a table shaped exactly like events (LIKE events INCLUDING
#      ALL: columns, defaults, constraints, indexes; not its triggers), 16 and
#      64 clients, -j 2 -M prepared; synchronous_commit stays on;
#   2. BIN serve (LOG_LEVEL=warn, projectors running, as in production) under
#      BIN simulate: one report per request at 64 and 16 clients, then 100
#      reports per request at 16 clients, each phase a warm-up then a measured
#      window;
#      The same two loads again on an ingest-only node (PROJECTORS=off),
#      to show what the projectors in the same process cost;
#   3. projection lag: marked reports posted while the load runs (BIN
#      bench-lag), timed from their 200 to the first GET /messages/{id} that
#      shows them, at light load and under the 64-client load; and how long
#      the projectors take to catch up once the load ends;
#   4. rebuild: the log filled to one million events (BIN bench-load, through
#      the store's Append, no HTTP), then `BIN rebuild all` timed.
#
# Environment: BENCH_SECONDS (measured seconds per phase, default 15),
# BENCH_WARMUP (default 3), BENCH_EVENTS (rebuild size, default 1000000),
# PG_BINDIR (where pgbench and psql are, else next to the running server).
set -euo pipefail

BIN=${1:?usage: scripts/bench.sh BIN}
cd "$(dirname "$0")/.."
[[ -x $BIN ]] || { echo "bench: $BIN is not an executable (run make build)" >&2; exit 1; }
BIN=$(cd "$(dirname "$BIN")" && pwd -P)/$(basename "$BIN")
SECS=${BENCH_SECONDS:-15}
WARM=${BENCH_WARMUP:-3}
EVENTS=${BENCH_EVENTS:-1000000}
SECONDS=0
LOADAVG=$(cut -d ' ' -f 1-3 /proc/loadavg 2>/dev/null || uptime | sed 's/.*load averages*: //')

log() { printf 'bench [%3ds]: %s\n' "$SECONDS" "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cxsms-bench.XXXXXX")
serve_pid=
cleanup() {
	if [[ -n $serve_pid ]]; then
		kill "$serve_pid" 2>/dev/null || true
		wait "$serve_pid" 2>/dev/null || true
	fi
	# destroy also removes what pg.sh kept outside $tmp (as root): a
	# million-event cluster left behind on every run otherwise.
	scripts/pg.sh destroy "$tmp/pg" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers

# first number following "KEY": in a JSON file (0 when there is none)
jnum() {
	local v
	v=$(sed -n "s/.*\"$2\": *\(-\{0,1\}[0-9][0-9.e+-]*\).*/\1/p" "$1" 2>/dev/null | head -n 1)
	printf '%s\n' "${v:-0}"
}

# 12345.6 -> 12,346
num() {
	awk -v n="${1:-0}" 'BEGIN { s = sprintf("%.0f", n); neg = ""; if (substr(s, 1, 1) == "-") { neg = "-"; s = substr(s, 2) }
		out = ""; while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }; print neg s out }'
}
# a / b with 2 decimals
ratio() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
pct() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b > 0) printf "%.0f %%", 100 * a / b; else print "n/a" }'; }
ms() { awk -v v="${1:-0}" 'BEGIN { if (v < 0) print "n/a"; else if (v >= 1000) printf "%.1f s", v / 1000; else if (v >= 10) printf "%.0f ms", v; else printf "%.1f ms", v }'; }
ge() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { exit !(a >= b) }'; }
lt() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { exit !(a < b) }'; }

# where pgbench and psql are: PG_BINDIR, else beside the server that runs
# the cluster, else where scripts/pg.sh would look
pg_bindir() {
	if [[ -n ${PG_BINDIR:-} ]]; then printf '%s\n' "$PG_BINDIR"; return; fi
	local base=$tmp/pg pid
	if [[ -f $tmp/pg/basedir ]]; then base=$(<"$tmp/pg/basedir"); fi
	pid=$(head -n 1 "$base/pgdata/postmaster.pid" 2>/dev/null || true)
	if [[ $pid =~ ^[0-9]+$ && -e /proc/$pid/exe ]]; then
		dirname "$(readlink "/proc/$pid/exe")"
		return
	fi
	if command -v pg_config >/dev/null 2>&1; then pg_config --bindir; return; fi
	# shellcheck disable=SC2012
	ls -d /usr/lib/postgresql/*/bin /usr/pgsql-*/bin /usr/local/pgsql/bin 2>/dev/null | sort -V | tail -n 1
}
tool() {
	if [[ -x $PGBIN/$1 ]]; then printf '%s\n' "$PGBIN/$1"; return; fi
	command -v "$1" 2>/dev/null || die "$1 not found (looked in $PGBIN and PATH; set PG_BINDIR)"
}
sql() { "$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

# p50 and p99 (ms) of pgbench's per-transaction log (3rd field: latency in us)
pgb_latency() {
	cat "$@" | awk '{ print $3 }' | sort -n | awk '{ v[NR] = $1 }
		END { if (NR == 0) { print "-1 -1"; exit }
		      i = int(0.5 * NR); if (i < 1) i = 1; j = int(0.99 * NR); if (j < 1) j = 1
		      printf "%.3f %.3f\n", v[i] / 1000, v[j] / 1000 }'
}

# ---------------------------------------------------------------- PostgreSQL

log "starting PostgreSQL in $tmp/pg"
DB=$(scripts/pg.sh start "$tmp/pg" 2>"$tmp/pg.log") || { cat "$tmp/pg.log" >&2; die "PostgreSQL did not start"; }
PGBIN=$(pg_bindir)
PGBENCH=$(tool pgbench)
PSQL=$(tool psql)
PGVERSION=$(sql 'SHOW server_version' | awk '{ print $1 }')
log "PostgreSQL $PGVERSION, pgbench $PGBENCH"
DATABASE_URL=$DB "$BIN" migrate >&2

# The report the ceiling inserts: the size and shape of a CXone JSON report.
# pgbench reads ":name" as a variable anywhere, so nothing in it follows a
# colon unquoted, and the time has no colons.
RAW='{"eventType":"messaging.status.update","eventId":"4f0c2b9e-2d1a-4c67-9a51-7d0e3b8f6a21","payload":{"messageId":"SIM-9b2e7c1d-5f3a-4e8b-a6c4-2d1f0e9b8a73","status":"DELIVERED","errorCode":"","carrier":"TMOBILE","from":"+12025550143","to":"+14155550123","timestamp":"20261128T101433.913Z","segments":"1","price":"0.0086","currency":"USD"}}'
COLS='message_id, event_id, status, raw_status, carrier_code, error_code, sender_id, recipient, price, currency, format, occurred_at, received_at, raw'
VALS="'DELIVERED', 'DELIVERED', 'TMOBILE', '', '+12025550143', '+14155550123', 0.0086, 'USD', 'json', now(), now()"
cat >"$tmp/single.sql" <<EOF
\set n random(1, 9000000000000000000)
INSERT INTO bench_events ($COLS) VALUES ('SIM-' || :n, 'evt-' || :n, $VALS, '$RAW') ON CONFLICT (message_id, event_id) DO NOTHING;
EOF
cat >"$tmp/batch.sql" <<EOF
\set n random(1, 9000000000000000000)
INSERT INTO bench_events ($COLS) SELECT 'SIM-' || :n || '-' || g, 'evt-' || g, $VALS, CAST('$RAW' AS json) FROM generate_series(1, 100) AS g ON CONFLICT (message_id, event_id) DO NOTHING;
EOF
sql "CREATE SEQUENCE bench_events_offset_seq;
     CREATE TABLE bench_events (LIKE events INCLUDING ALL);
     ALTER TABLE bench_events ALTER COLUMN \"offset\" SET DEFAULT nextval('bench_events_offset_seq')"

# pgbench NAME CLIENTS SCRIPT: sets TPS, P50, P99 (ms)
pgbench_run() {
	local name=$1 clients=$2 script=$3
	sql "TRUNCATE bench_events" >/dev/null
	sql "CHECKPOINT" >/dev/null
	log "pgbench $name: $clients clients, ${SECS}s"
	(cd "$tmp" && "$PGBENCH" -n -M prepared -c "$clients" -j 2 -T "$SECS" -f "$script" \
		-l --log-prefix="$tmp/pgb_$name" "$DB") >"$tmp/pgb_$name.out" 2>&1 ||
		{ cat "$tmp/pgb_$name.out" >&2; die "pgbench $name failed"; }
	TPS=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$tmp/pgb_$name.out" | head -n 1)
	read -r P50 P99 < <(pgb_latency "$tmp/pgb_$name".[0-9]*)
	rm -f "$tmp/pgb_$name".[0-9]*
}
pgbench_run single16 16 "$tmp/single.sql"; PG_S16=$TPS PG_S16_P50=$P50 PG_S16_P99=$P99
pgbench_run single64 64 "$tmp/single.sql"; PG_S64=$TPS PG_S64_P50=$P50 PG_S64_P99=$P99
pgbench_run batch16 16 "$tmp/batch.sql"; PG_B16=$(awk -v t="$TPS" 'BEGIN { print t * 100 }') PG_B16_P50=$P50 PG_B16_P99=$P99
pgbench_run batch64 64 "$tmp/batch.sql"; PG_B64=$(awk -v t="$TPS" 'BEGIN { print t * 100 }') PG_B64_P50=$P50 PG_B64_P99=$P99
sql "DROP TABLE bench_events; DROP SEQUENCE bench_events_offset_seq" >/dev/null
sql "CHECKPOINT" >/dev/null

# ---------------------------------------------------------------- the service

SECRET=bench-secret
TOKEN=bench-admin
export WEBHOOK_SECRET=$SECRET

# start_serve [VAR=value...]: BIN serve on a free port; sets BASE, serve_pid
start_serve() {
	log "starting $BIN serve $*"
	rm -f "$tmp/serve.out"
	env DATABASE_URL="$DB" PORT=0 WEBHOOK_SECRET=$SECRET ADMIN_TOKEN=$TOKEN LOG_LEVEL=warn SIMULATOR_ENABLED=false "$@" \
		"$BIN" serve >"$tmp/serve.out" 2>>"$tmp/serve.log" &
	serve_pid=$!
	for _ in $(seq 1 300); do
		grep -q 'listening on' "$tmp/serve.out" 2>/dev/null && break
		kill -0 "$serve_pid" 2>/dev/null || { cat "$tmp/serve.log" >&2; die "serve exited"; }
		sleep 0.1
	done
	BASE=$(sed -n 's/^cxsms listening on \(http[^ ]*\).*/\1/p' "$tmp/serve.out" | head -n 1)
	[[ -n $BASE ]] || die "serve printed no address"
	"$BIN" bench-wait --target "$BASE" --admin-token "$TOKEN" --timeout 60s >/dev/null
}
stop_serve() {
	kill -TERM "$serve_pid"
	wait "$serve_pid" || true
	serve_pid=
}
start_serve
"$BIN" bench-wait --target "$BASE" --admin-token "$TOKEN" --caught-up --timeout 60s >/dev/null

# simulate NAME ARGS...: a phase of load, its summary in $tmp/NAME.json
simulate() {
	local name=$1
	shift
	"$BIN" simulate --target "$BASE" --json --quiet --seed "$RANDOM$RANDOM" "$@" >"$tmp/$name.json" 2>"$tmp/$name.err" ||
		log "$name: $(tail -n 1 "$tmp/$name.err")"
}

# Projection lag at light load: 100 reports/s of lifecycle traffic.
log "projection lag at light load (100 reports/s, 10s)"
simulate light --rate 100/s --duration 10s --concurrency 4 --scenario lifecycle &
sim=$!
"$BIN" bench-lag --target "$BASE" --duration 10s --interval 250ms >"$tmp/lag_light.json"
wait "$sim" || true

# One report per request, 64 clients, with lag probes during the window.
# From here on the projectors have a backlog: how fast they apply it is
# measured from here to the end of the load.
LOAD_T0=$SECONDS
LOAD_E0=$(sql "SELECT count(*) FROM events")
log "ingest: 1 report/request, 64 clients, ${WARM}s warm-up + ${SECS}s"
simulate c64 --rate 0 --concurrency 64 --scenario single --warmup "${WARM}s" --duration "$((WARM + SECS))s" &
sim=$!
sleep "$WARM"
"$BIN" bench-lag --target "$BASE" --duration "${SECS}s" --interval 500ms --grace 30s >"$tmp/lag_load.json" &
lag=$!
wait "$sim" || true
log "waiting for the lag probes to be seen (at most 30s)"
wait "$lag" || true

log "ingest: 1 report/request, 16 clients, ${WARM}s warm-up + ${SECS}s"
simulate c16 --rate 0 --concurrency 16 --scenario single --warmup "${WARM}s" --duration "$((WARM + SECS))s"

log "ingest: 100 reports/request, 16 clients, ${WARM}s warm-up + ${SECS}s"
simulate b16 --rate 0 --concurrency 16 --batch 100 --scenario single --warmup "${WARM}s" --duration "$((WARM + SECS))s"

PROJ_BEHIND=$("$BIN" bench-wait --target "$BASE" --admin-token "$TOKEN" --caught-up --timeout 1s | sed -n 's/.*"lagEvents": \([0-9]*\).*/\1/p')
LOAD_E1=$(sql "SELECT count(*) FROM events")
PROJ_RATE=$(awk -v e0="$LOAD_E0" -v e1="$LOAD_E1" -v b="${PROJ_BEHIND:-0}" -v t=$((SECONDS - LOAD_T0)) 'BEGIN { if (t > 0) print (e1 - b - e0) / t; else print 0 }')
INGESTED=$((LOAD_E1 - LOAD_E0))
# With the load over, the projectors have the machine: how long until the
# read models hold every report.
log "waiting for the projections to catch up ($PROJ_BEHIND events behind the log)"
CATCHUP_T0=$SECONDS
# bench-wait exits 0 either way (it reports); its JSON says which.
"$BIN" bench-wait --target "$BASE" --admin-token "$TOKEN" --caught-up --timeout 300s >"$tmp/catchup.json"
if grep -q '"caughtUp": true' "$tmp/catchup.json"; then
	CATCHUP="caught up $((SECONDS - CATCHUP_T0)) s after the load ended"
else
	CATCHUP="had not caught up 300 s after the load ended"
fi
log "stopping serve"
stop_serve
# Settle what the catch-up left to do in the background (autovacuum of the
# state tables, dirty pages), so it does not run during the next phase.
log "VACUUM (ANALYZE) and CHECKPOINT between phases"
sql "VACUUM (ANALYZE)" >/dev/null
sql "CHECKPOINT" >/dev/null

# The same load on an ingest-only node: what the projectors cost ingest.
start_serve PROJECTORS=off
log "ingest-only (PROJECTORS=off): 1 report/request, 64 clients, ${WARM}s warm-up + ${SECS}s"
simulate i64 --rate 0 --concurrency 64 --scenario single --warmup "${WARM}s" --duration "$((WARM + SECS))s"
log "ingest-only (PROJECTORS=off): 100 reports/request, 16 clients, ${WARM}s warm-up + ${SECS}s"
simulate ib16 --rate 0 --concurrency 16 --batch 100 --scenario single --warmup "${WARM}s" --duration "$((WARM + SECS))s"
stop_serve

# ---------------------------------------------------------------- net/http floor
# The same 64-client load on a net/http server that only reads each body and
# answers: what any Go HTTP server costs here, before routing, parsing or a
# store. Its CPU per request is the floor under the service's.
log "net/http floor (bench-floor): 64 clients, ${WARM}s warm-up + ${SECS}s"
"$BIN" bench-floor --addr 127.0.0.1:0 >"$tmp/floor.json" 2>"$tmp/floor.err" &
floor=$!
for _ in $(seq 100); do grep -qs "listening on" "$tmp/floor.err" && break; sleep 0.1; done
BASE=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$tmp/floor.err" | head -n 1)
[ -n "$BASE" ] || die "bench-floor did not start: $(cat "$tmp/floor.err")"
simulate f64 --rate 0 --concurrency 64 --scenario single --warmup "${WARM}s" --duration "$((WARM + SECS))s"
kill -TERM "$floor"
wait "$floor" || true

# ---------------------------------------------------------------- rebuild

log "filling the log to $EVENTS events (store Append, no HTTP)"
DATABASE_URL=$DB "$BIN" bench-load --total "$EVENTS" >"$tmp/load.json"
sql "CHECKPOINT" >/dev/null
log "rebuild all"
DATABASE_URL=$DB LOG_LEVEL=warn "$BIN" rebuild all >"$tmp/rebuild.out" 2>"$tmp/rebuild.err" ||
	{ cat "$tmp/rebuild.err" >&2; die "rebuild failed"; }
REB_RATE=$(sed -n 's/.*(\([0-9.]*\) events\/s).*/\1/p' "$tmp/rebuild.out")
REB_EVENTS=$(sed -n 's/.*: \([0-9]*\) events, .*/\1/p' "$tmp/rebuild.out")
REB_TOOK=$(sed -n 's/.* in \([^ ]*\) (.*/\1/p' "$tmp/rebuild.out")
REB_MESSAGES=$(sed -n 's/.* events, \([0-9]*\) messages .*/\1/p' "$tmp/rebuild.out")
LOADED=$(jnum "$tmp/load.json" added)
if [ "${LOADED%.*}" -gt 0 ]; then
	LOAD_NOTE="the log filled to $(num "$EVENTS") events through the store's \`Append\` ($(num "$(jnum "$tmp/load.json" eventsPerSecond)") events/s)"
else
	LOAD_NOTE="the load phases had already put $(num "$(jnum "$tmp/load.json" before)") events in the log (at least the $(num "$EVENTS") asked for)"
fi

# ---------------------------------------------------------------- the table

S64=$(jnum "$tmp/c64.json" requestsPerSecond) S64_P50=$(jnum "$tmp/c64.json" p50) S64_P99=$(jnum "$tmp/c64.json" p99)
S16=$(jnum "$tmp/c16.json" requestsPerSecond) S16_P50=$(jnum "$tmp/c16.json" p50) S16_P99=$(jnum "$tmp/c16.json" p99)
B16=$(jnum "$tmp/b16.json" reportsPerSecond) B16_REQ=$(jnum "$tmp/b16.json" requestsPerSecond)
B16_P50=$(jnum "$tmp/b16.json" p50) B16_P99=$(jnum "$tmp/b16.json" p99)
F64=$(jnum "$tmp/f64.json" requestsPerSecond) F64_P99=$(jnum "$tmp/f64.json" p99)
F64_CPU=$(jnum "$tmp/floor.json" cpuPerRequestUs)
I64=$(jnum "$tmp/i64.json" requestsPerSecond) I64_P50=$(jnum "$tmp/i64.json" p50) I64_P99=$(jnum "$tmp/i64.json" p99)
IB16=$(jnum "$tmp/ib16.json" reportsPerSecond) IB16_P99=$(jnum "$tmp/ib16.json" p99)
FAILED=0 RETRIED=0
for f in c64 c16 b16 i64 ib16; do
	FAILED=$((FAILED + $(jnum "$tmp/$f.json" failed)))
	RETRIED=$((RETRIED + $(jnum "$tmp/$f.json" retries503)))
done
LL_P50=$(jnum "$tmp/lag_light.json" p50) LL_P99=$(jnum "$tmp/lag_light.json" p99)
LL_N=$(jnum "$tmp/lag_light.json" visible)
LG_P50=$(jnum "$tmp/lag_load.json" p50) LG_P99=$(jnum "$tmp/lag_load.json" p99)
LG_N=$(jnum "$tmp/lag_load.json" probes) LG_MISS=$(jnum "$tmp/lag_load.json" notVisible)
lagcell() { if [[ $1 == -1 ]]; then echo "> 30 s"; else ms "$1"; fi; }

TUT=3700
verdict_64="missed"
if ge "$S64" 11100 && lt "$S64_P99" 37; then verdict_64="met"; fi
verdict_b="missed"
if ge "$B16" "$(awk -v c="$PG_B16" 'BEGIN { print 0.75 * c }')"; then verdict_b="met"; fi

cat <<EOF
### make bench — $(date -u +%Y-%m-%d), $(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc) cores (load average $LOADAVG before the run), PostgreSQL $PGVERSION (fsync and synchronous_commit on)

| measure | cxsms | reference | ratio | target |
|---|---|---|---|---|
| ingest, 1 report/request, 16 clients | $(num "$S16") req/s · p50 $(ms "$S16_P50") · p99 $(ms "$S16_P99") | tutorial (Node.js): ~3,700 req/s · p99 12 ms | $(ratio "$S16" $TUT)× tutorial · $(pct "$S16" "$PG_S16") of PostgreSQL | — |
| ingest, 1 report/request, 64 clients | $(num "$S64") req/s · p50 $(ms "$S64_P50") · p99 $(ms "$S64_P99") | tutorial (Node.js): ~3,700 req/s · p99 37 ms | $(ratio "$S64" $TUT)× tutorial · $(pct "$S64" "$PG_S64") of PostgreSQL | ≥ 11,100 req/s, p99 < 37 ms: **$verdict_64** |
| ingest, 100 reports/request, 16 clients | $(num "$B16") events/s ($(num "$B16_REQ") req/s · p50 $(ms "$B16_P50") · p99 $(ms "$B16_P99")) | PostgreSQL 100-row batches, 16 clients: $(num "$PG_B16") rows/s | $(pct "$B16" "$PG_B16") of PostgreSQL | ≥ 75 %: **$verdict_b** |
| ingest-only node (\`PROJECTORS=off\`), for comparison | 1 report/request, 64 clients: $(num "$I64") req/s · p50 $(ms "$I64_P50") · p99 $(ms "$I64_P99"); 100 reports/request, 16 clients: $(num "$IB16") events/s · p99 $(ms "$IB16_P99") | — | $(ratio "$I64" $TUT)× tutorial · $(pct "$I64" "$PG_S64") / $(pct "$IB16" "$PG_B16") of PostgreSQL | — |
| net/http floor (\`bench-floor\`: reads each body, sends a fixed answer; no routing, parsing or store), 64 clients | $(num "$F64") req/s · p99 $(ms "$F64_P99") · $(awk -v c="$F64_CPU" 'BEGIN { printf "%.0f", c }') µs CPU per request in the server | — | $(ratio "$F64" $TUT)× tutorial | what any Go HTTP server pays here |
| PostgreSQL alone: single-row \`INSERT … ON CONFLICT DO NOTHING\` (pgbench) | 16 clients: $(num "$PG_S16")/s · p50 $(ms "$PG_S16_P50") · p99 $(ms "$PG_S16_P99"); 64 clients: $(num "$PG_S64")/s · p50 $(ms "$PG_S64_P50") · p99 $(ms "$PG_S64_P99") | ~10,000/s | — | ceiling |
| PostgreSQL alone: 100-row batches (pgbench) | 16 clients: $(num "$PG_B16") rows/s · p50 $(ms "$PG_B16_P50") · p99 $(ms "$PG_B16_P99"); 64 clients: $(num "$PG_B64") rows/s · p50 $(ms "$PG_B64_P50") · p99 $(ms "$PG_B64_P99") | ~65,000 rows/s | — | ceiling |
| projection lag, light load (100 reports/s) | p50 $(lagcell "$LL_P50") · p99 $(lagcell "$LL_P99") ($LL_N probes) | — | — | — |
| projection lag, under the 64-client load | p50 $(lagcell "$LG_P50") · p99 $(lagcell "$LG_P99") ($LG_N probes, $LG_MISS not seen within 30 s) | — | — | — |
| rebuild all, $(num "$REB_EVENTS") events ($(num "${REB_MESSAGES:-0}") messages) | $(num "$REB_RATE") events/s ($REB_TOOK) | — | — | — |

- Load: \`cxsms simulate\` (scenario \`single\`: one CXone JSON report per message, every report new), keep-alive connections, ${WARM} s warm-up then ${SECS} s measured; latency is per request, client side. Errors: $FAILED failed requests, $RETRIED retried after 503. The projectors run inside \`serve\` throughout: from the 64-client phase to the end of the load they applied $(num "$PROJ_RATE") events/s (slowest projection) while $(num "$INGESTED") events arrived, and were $(num "${PROJ_BEHIND:-0}") events behind when it ended; they $CATCHUP.
- Projection lag: a marked report every 500 ms (250 ms at light load), timed from its 200 to the first \`GET /messages/{id}\` that shows it (the current_status read model).
- PostgreSQL ceiling: pgbench \`-M prepared -j 2 -T $SECS\`, random message ids, into \`bench_events (LIKE events INCLUDING ALL)\` (same columns, constraints and indexes, no triggers), with a ${#RAW}-byte report in \`raw\`. Ratios compare at equal client counts.
- Rebuild: $LOAD_NOTE, then \`cxsms rebuild all\` over $(num "${REB_MESSAGES:-0}") messages (a rebuild's cost goes with the messages more than the events).
- Total runtime: $((SECONDS / 60))m $((SECONDS % 60))s.
EOF
