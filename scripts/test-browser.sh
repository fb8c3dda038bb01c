#!/usr/bin/env bash
# test-browser.sh - the dashboard in headless Chromium against a real cxsms.
#
# Starts a private PostgreSQL in a temporary directory, builds and starts
# `cxsms serve` on a free port, and runs tests/browser/dashboard.test.mjs
# (playwright-core driving Debian's chromium), which feeds the service
# reports, goes through the dashboard and saves screenshots. Everything it
# started is stopped on exit, whatever happens; the screenshots are kept and
# their folder is printed at the end.
#
# Needs: go, node >= 20 and npm, and /usr/bin/chromium (installed here with
# apt-get when missing and run as root). Environment:
#   CHROMIUM        the browser to drive (default /usr/bin/chromium)
#   ARTIFACTS_DIR   where the screenshots go (default: a new /tmp/cxsms-browser-artifacts.*)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
GO=${GO:-go}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export CHROMIUM

say() { printf 'test-browser: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

if [[ ! -x $CHROMIUM ]]; then
	if [[ $CHROMIUM == /usr/bin/chromium && $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
		say "installing Debian's chromium"
		apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
	else
		die "$CHROMIUM is missing. Install it as root (Debian/Ubuntu: apt-get update && apt-get install -y chromium), or set CHROMIUM to a Chromium binary."
	fi
fi
command -v node >/dev/null 2>&1 || die "node is missing (Node.js 20 or newer; Debian: apt-get install nodejs npm)"
command -v npm >/dev/null 2>&1 || die "npm is missing (Debian: apt-get install npm)"
command -v curl >/dev/null 2>&1 || die "curl is missing (Debian: apt-get install curl)"

say "npm ci in tests/browser"
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >&2)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cxsms-browser.XXXXXX")
ARTIFACTS_DIR=${ARTIFACTS_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/cxsms-browser-artifacts.XXXXXX")}
mkdir -p "$ARTIFACTS_DIR"
export ARTIFACTS_DIR
server_pid=
cleanup() {
	if [[ -n $server_pid ]]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	# destroy also removes what pg.sh kept outside $tmp (as root).
	"$root/scripts/pg.sh" destroy "$tmp/pg" >/dev/null 2>&1 || true
	if [[ -f $tmp/serve.log ]]; then cp "$tmp/serve.log" "$ARTIFACTS_DIR/serve.log"; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

DATABASE_URL=$(scripts/pg.sh start "$tmp/pg")
say "building cxsms"
$GO build -o "$tmp/cxsms" ./cmd/cxsms

WEBHOOK_SECRET=browser-test-secret-$RANDOM$RANDOM
ADMIN_TOKEN=browser-test-admin-$RANDOM$RANDOM
export WEBHOOK_SECRET ADMIN_TOKEN
# PORT=0: the kernel picks a free port and serve prints it. The service runs
# in the temporary directory so a developer's .env does not leak in.
(cd "$tmp" && exec env DATABASE_URL="$DATABASE_URL" PORT=0 SIMULATOR_ENABLED=true LOG_LEVEL=warn \
	WEBHOOK_SECRET="$WEBHOOK_SECRET" ADMIN_TOKEN="$ADMIN_TOKEN" ./cxsms serve >"$tmp/serve.out" 2>"$tmp/serve.log") &
server_pid=$!

url=
for _ in $(seq 1 200); do
	kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/serve.log" >&2; die "cxsms serve exited early"; }
	if [[ -z $url ]]; then
		url=$(sed -n 's/^cxsms listening on \(http:[^ ]*\)$/\1/p' "$tmp/serve.out" | head -n 1)
	fi
	if [[ -n $url ]] && curl -fsS -o /dev/null "$url/readyz" 2>/dev/null; then
		break
	fi
	sleep 0.15
done
[[ -n $url ]] && curl -fsS -o /dev/null "$url/readyz" || { cat "$tmp/serve.log" >&2; die "cxsms did not become ready"; }
say "cxsms ready at $url"

status=0
(cd tests/browser && CXSMS_URL=$url node --test --test-reporter=spec dashboard.test.mjs) || status=$?
say "screenshots: $ARTIFACTS_DIR"
ls -1 "$ARTIFACTS_DIR"/*.png 2>/dev/null | sed 's/^/  /' >&2 || true
exit "$status"
