#!/usr/bin/env bash
# pg.sh - a private PostgreSQL cluster for development (make run), tests
# (make test) and benchmarks (make bench).
#
# Usage:
#   scripts/pg.sh start DIR   start the cluster in DIR (initdb it first if absent),
#                             create database cxsms if missing, print its URL
#   scripts/pg.sh stop DIR    stop it (pg_ctl -m fast); fine if it is not running
#   scripts/pg.sh url DIR     print the URL of the running cluster in DIR, or fail
#   scripts/pg.sh destroy DIR stop it and remove DIR, with any /tmp directory
#                             it recorded (basedir, sockdir: see below)
#
# stdout carries only the URL, as one line; every other message goes to stderr:
#   DATABASE_URL=$(scripts/pg.sh start .data/pg)
#   -> postgres://USER@127.0.0.1:PORT/cxsms?sslmode=disable
# USER is the OS user the server runs as (its superuser). Authentication is
# "trust" for unix-socket and 127.0.0.1 connections; the server listens on
# 127.0.0.1 only.
#
# Run as root (PostgreSQL refuses to), the server runs as the system user
# "postgres", which is created if missing.
#
# What DIR holds:
#   pgdata/        the data directory
#   sock/          the unix socket directory
#   postgres.log   the server log
#   port           the TCP port last used (a new one is picked if it was taken)
#   basedir        only if the server user cannot reach DIR (root, with DIR under
#                  /root for example): the directory under /var/lib/cxsms
#                  holding pgdata/, sock/ and postgres.log instead
#                  (DIR/postgres.log is then a symlink). Not under /tmp: the
#                  cluster holds acknowledged reports, and /tmp is emptied at
#                  boot or by cleaners. Should it vanish all the same, start
#                  refuses rather than quietly begin an empty cluster.
#   sockdir        only if DIR's path is too long for a unix socket: the short
#                  /tmp directory holding the socket instead
#   .lock          serialises concurrent start/stop runs (where flock exists)
#
# Environment:
#   PG_BINDIR         directory of initdb, pg_ctl and postgres (else searched for)
#   PG_START_TIMEOUT  seconds to wait for the server to start (default 120)

set -euo pipefail

PROG=${0##*/}
DB_NAME=cxsms
PG_OS_USER=postgres          # who runs the server when this script runs as root
PERSIST_DIR=/var/lib/cxsms   # where root keeps a cluster the server user cannot reach in DIR
SOCK_DIR_MAX=80              # sun_path is 108 bytes (104 on macOS); "/.s.PGSQL.NNNNN" adds 15
START_TIMEOUT=${PG_START_TIMEOUT:-120}
READY_TIMEOUT=30

msg() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

usage() {
	cat >&2 <<EOF
usage: $PROG start DIR   start (initdb if needed) the cluster in DIR; print its URL
       $PROG stop DIR    stop the cluster in DIR (fast); ok if not running
       $PROG url DIR     print the URL of the running cluster in DIR, or fail
       $PROG destroy DIR stop the cluster in DIR and remove it
EOF
	exit 2
}

# libpq/server variables from the caller's environment (PGHOST, PGOPTIONS, ...)
# must not steer the commands below; PG_BINDIR and PG_START_TIMEOUT are ours.
while IFS= read -r v; do
	case $v in PG[A-Z]*) unset "$v" ;; esac
done < <(compgen -e)
export LC_ALL=C

ME=$(id -un)

# ---------------------------------------------------------------- helpers

# owner NAME of a file
# shellcheck disable=SC2012 # portable (GNU and BSD); only the owner field is used
owner_of() { ls -ld "$1" | awk '{print $3}'; }

# single-quote a word for sh
shq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# Run a command as the server's OS user. fd 9 (the lock) is closed so that the
# postmaster does not inherit it.
as_pg() {
	if [[ $RUN_USER == "$ME" ]]; then
		"$@" 9>&-
	elif ((EUID != 0)); then
		die "the cluster belongs to user $RUN_USER; run this as $RUN_USER or as root"
	elif command -v runuser >/dev/null 2>&1; then
		runuser -u "$RUN_USER" -- "$@" 9>&-
	elif command -v setpriv >/dev/null 2>&1; then
		setpriv --reuid="$(id -u "$RUN_USER")" --regid="$(id -g "$RUN_USER")" --init-groups -- "$@" 9>&-
	elif command -v su >/dev/null 2>&1; then
		local cmd=exec a
		for a in "$@"; do cmd+=" $(shq "$a")"; done
		su -s /bin/sh "$RUN_USER" -c "$cmd" 9>&-
	else
		die "need runuser, setpriv or su to run PostgreSQL as $RUN_USER"
	fi
}

ensure_os_user() {
	id -u "$PG_OS_USER" >/dev/null 2>&1 && return 0
	msg "creating system user $PG_OS_USER (PostgreSQL refuses to run as root)"
	if command -v useradd >/dev/null 2>&1; then
		local group=(--user-group)
		if getent group "$PG_OS_USER" >/dev/null 2>&1; then group=(-g "$PG_OS_USER"); fi
		useradd --system "${group[@]}" --no-create-home --home-dir /var/lib/postgresql \
			--shell /bin/bash "$PG_OS_USER" >&2 || die "useradd $PG_OS_USER failed"
	elif command -v adduser >/dev/null 2>&1; then # busybox
		adduser -S -D -H -h /var/lib/postgresql -s /bin/sh "$PG_OS_USER" >&2 ||
			die "adduser $PG_OS_USER failed"
	else
		die "user $PG_OS_USER does not exist and there is no useradd to create it; create it, or run this script as a normal user"
	fi
}

# ---------------------------------------------------------------- binaries

has_server_bins() { [[ -n $1 && -x $1/initdb && -x $1/pg_ctl && -x $1/postgres ]]; }

# major version of the binaries in a bindir ("15", "9.6")
bindir_version() {
	local v
	v=$("$1/pg_ctl" --version 2>/dev/null | awk '{print $3}') || return 0
	v=${v%%[!0-9.]*}
	case $v in
	[0-9].*) printf '%s\n' "$(printf '%s' "$v" | cut -d. -f1,2)" ;;
	*) printf '%s\n' "${v%%.*}" ;;
	esac
}

# Sets BIN. $1: the version the existing cluster needs (may be empty), which
# wins over "newest" when several installs are present.
find_bindir() {
	local want=${1:-} d v cands=()
	if [[ -n ${PG_BINDIR:-} ]]; then
		has_server_bins "$PG_BINDIR" || die "PG_BINDIR=$PG_BINDIR has no initdb, pg_ctl and postgres"
		BIN=$PG_BINDIR
		return 0
	fi
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir 2>/dev/null) || d=
		if has_server_bins "$d"; then cands+=("$d"); fi
	fi
	# versioned installs, newest first (numeric: 9.6 < 10 < 15 < 16)
	while IFS=' ' read -r v d; do
		if has_server_bins "$d"; then cands+=("$d"); fi
	done < <(
		for d in /usr/lib/postgresql/*/bin /usr/pgsql-*/bin \
			/opt/homebrew/opt/postgresql@*/bin /usr/local/opt/postgresql@*/bin; do
			[[ -d $d ]] || continue
			v=${d%/bin}
			v=${v##*/}
			v=${v#postgresql@}
			v=${v#pgsql-}
			printf '%s %s\n' "$v" "$d"
		done | sort -rn -k1,1
	)
	if d=$(command -v initdb 2>/dev/null) && [[ -n $d ]]; then
		d=$(dirname "$d")
		if has_server_bins "$d"; then
			cands+=("$d")
		elif [[ -x $d/pg_ctl ]]; then # e.g. symlinks in /usr/local/bin
			cands+=("$d")
		fi
	fi
	if ((${#cands[@]} == 0)); then
		die "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found. Install them:
    Debian/Ubuntu (as root):  apt-get install postgresql
    macOS:                    brew install postgresql@16
  or set PG_BINDIR to the directory holding them,
  or don't use this script: set DATABASE_URL to an existing PostgreSQL server."
	fi
	BIN=${cands[0]}
	if [[ -n $want ]]; then
		for d in "${cands[@]}"; do
			if [[ $(bindir_version "$d") == "$want" ]]; then
				BIN=$d
				return 0
			fi
		done
	fi
}

# path of a PostgreSQL tool: from BIN, else PATH
tool() {
	if [[ -x $BIN/$1 ]]; then
		printf '%s\n' "$BIN/$1"
	else
		command -v "$1" 2>/dev/null || die "$1 not found (looked in $BIN and PATH)"
	fi
}

# ---------------------------------------------------------------- layout

# Sets BASE, DATA, LOG from DIR, without creating anything.
locate() {
	BASE=$DIR
	if [[ -f $DIR/basedir ]]; then BASE=$(<"$DIR/basedir"); fi
	DATA=$BASE/pgdata
	LOG=$BASE/postgres.log
}

# Server user for an existing cluster: the owner of its data directory.
# Sets RUN_USER.
pick_run_user() {
	local o=
	[[ -d $DATA ]] && o=$(owner_of "$DATA")
	if ((EUID == 0)); then
		if [[ -n $o && $o != root && $o != 0 ]]; then
			RUN_USER=$o
			id -u "$RUN_USER" >/dev/null 2>&1 || die "$DATA is owned by $o, which is not a known user"
		else
			ensure_os_user
			RUN_USER=$PG_OS_USER
		fi
	else
		RUN_USER=$ME
		if [[ -n $o && $o != "$ME" ]]; then
			die "$DATA belongs to $o; run this as $o or as root"
		fi
	fi
}

# a fresh private directory for the server user, under PARENT (default /tmp)
new_tmp_dir() { # PREFIX [PARENT]
	local d parent=${2:-/tmp}
	d=$(mktemp -d "$parent/$1.XXXXXXXX") || die "mktemp in $parent failed"
	if ((EUID == 0)); then chown "$RUN_USER" "$d"; fi
	chmod 700 "$d"
	printf '%s\n' "$d"
}

# For start: make sure BASE, DATA's parent, LOG and SOCK exist and are the
# server user's. Sets BASE, DATA, LOG, SOCK.
prepare_dirs() {
	locate
	if [[ -f $DIR/basedir ]]; then
		if [[ ! -d $BASE ]]; then
			die "the cluster of $DIR was kept in $BASE (recorded in $DIR/basedir), which is gone, and with it the reports it held; remove $DIR/basedir (make clean removes $DIR) to begin a new, empty cluster"
		fi
		if [[ $BASE == /tmp/* ]]; then
			# Kept there by an earlier pg.sh.
			msg "warning: the cluster is kept in $BASE, and /tmp is emptied at boot; to keep its reports, stop it, move the directory under $PERSIST_DIR and write the new path into $DIR/basedir"
		fi
	elif ((EUID == 0)); then
		[[ $(owner_of "$DIR") == "$RUN_USER" ]] || chown "$RUN_USER" "$DIR"
		# shellcheck disable=SC2016
		if ! as_pg sh -c 'test -w "$1" && test -x "$1"' sh "$DIR"; then
			if [[ -e $DIR/pgdata ]]; then
				die "user $RUN_USER cannot reach $DIR (a parent directory is not traversable by others), yet the cluster is there; make the parents traversable (chmod o+x) or remove $DIR"
			fi
			if [[ ! -d $PERSIST_DIR ]]; then
				mkdir -p "$PERSIST_DIR" && chmod 755 "$PERSIST_DIR" || die "cannot create $PERSIST_DIR"
			fi
			BASE=$(new_tmp_dir pg "$PERSIST_DIR")
			printf '%s\n' "$BASE" >"$DIR/basedir"
			msg "user $RUN_USER cannot reach $DIR (a parent directory is not traversable by others); keeping the cluster in $BASE instead (recorded in $DIR/basedir)"
		fi
	fi
	DATA=$BASE/pgdata
	LOG=$BASE/postgres.log
	[[ -e $LOG ]] || as_pg touch "$LOG"
	if [[ $BASE != "$DIR" ]]; then ln -sfn "$LOG" "$DIR/postgres.log"; fi

	if ((${#BASE} + 5 <= SOCK_DIR_MAX)); then
		SOCK=$BASE/sock
		[[ -d $SOCK ]] || as_pg mkdir -m 700 "$SOCK"
	else
		SOCK=
		if [[ -f $DIR/sockdir ]]; then
			SOCK=$(<"$DIR/sockdir")
			if [[ ! -d $SOCK || $(owner_of "$SOCK") != "$RUN_USER" ]]; then SOCK=; fi
		fi
		if [[ -z $SOCK ]]; then
			SOCK=$(new_tmp_dir cxsms-pgsock)
			printf '%s\n' "$SOCK" >"$DIR/sockdir"
			msg "$DIR is too long a path for a unix socket; the socket goes in $SOCK (recorded in $DIR/sockdir)"
		fi
	fi
}

# ---------------------------------------------------------------- state

# line N of postmaster.pid (1 pid, 4 port, 5 socket dir, 8 status)
pidfile_line() { sed -n "${1}{s/[[:space:]]*\$//;p;}" "$DATA/postmaster.pid" 2>/dev/null || true; }

# What the PID in postmaster.pid is: ours (this cluster's postmaster), dead,
# other (a live process that is not it), unknown (cannot tell).
pid_state() {
	local pid cwd comm real
	[[ -f $DATA/postmaster.pid ]] || { echo dead; return; }
	pid=$(pidfile_line 1)
	[[ $pid =~ ^[0-9]+$ ]] || { echo dead; return; }
	if [[ -d /proc/self ]]; then
		[[ -d /proc/$pid ]] || { echo dead; return; }
		# an exited but unreaped (zombie) process still has a /proc entry
		case $(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null) in Z* | X* | '') echo dead; return ;; esac
		# a postmaster's working directory is its data directory
		if cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) && [[ -n $cwd ]]; then
			real=$(cd "$DATA" 2>/dev/null && pwd -P) || real=$DATA
			[[ $cwd == "$real" ]] && echo ours || echo other
			return
		fi
		comm=$(cat "/proc/$pid/comm" 2>/dev/null) || { echo unknown; return; }
	elif command -v ps >/dev/null 2>&1; then
		comm=$(ps -p "$pid" -o stat=,comm= 2>/dev/null) || { echo dead; return; }
		comm=${comm#"${comm%%[![:space:]]*}"}
		case $comm in Z*) echo dead; return ;; esac
	else
		if kill -0 "$pid" 2>/dev/null; then echo unknown; else echo dead; fi
		return
	fi
	case $comm in *postgres* | *postmaster*) echo ours ;; *) echo other ;; esac
}

url_for() { printf 'postgres://%s@127.0.0.1:%s/%s?sslmode=disable\n' "$1" "$2" "$DB_NAME"; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + RANDOM % 12000)) # below Linux's ephemeral range (32768+)
		port_busy "$p" || { printf '%s\n' "$p"; return 0; }
	done
	die "could not find a free TCP port on 127.0.0.1"
}

# wait until the server accepts TCP connections on 127.0.0.1:$1
wait_ready() {
	local port=$1 i
	for ((i = 0; i < READY_TIMEOUT * 2; i++)); do
		if "$PG_ISREADY" -q -h 127.0.0.1 -p "$port" -U "$RUN_USER" -d postgres -t 2; then return 0; fi
		sleep 0.5
	done
	msg "the server does not accept connections on 127.0.0.1:$port; last lines of $LOG:"
	tail -n 40 "$LOG" >&2 || true
	exit 1
}

ensure_db() {
	local port=$1 have
	have=$(as_pg "$PSQL" -X -q -A -t -h 127.0.0.1 -p "$port" -U "$RUN_USER" -d postgres \
		-c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'") ||
		die "could not query the server on 127.0.0.1:$port"
	[[ $have == 1 ]] && return 0
	msg "creating database $DB_NAME"
	as_pg "$CREATEDB" -h 127.0.0.1 -p "$port" -U "$RUN_USER" "$DB_NAME" >&2 ||
		die "createdb $DB_NAME failed"
}

# A cluster made by another user (root runs it as postgres) is theirs to manage.
check_access() {
	((EUID == 0)) && return 0
	local o=''
	if [[ -e $DATA ]]; then
		o=$(owner_of "$DATA")
	elif [[ ! -w $DIR ]]; then
		o=$(owner_of "$DIR")
	fi
	if [[ -n $o && $o != "$ME" ]]; then
		die "the cluster in $DIR belongs to user $o; run this as root (or as $o)"
	fi
	return 0
}

lock_dir() {
	[[ -w $DIR ]] || die "cannot write to $DIR"
	exec 9>>"$DIR/.lock"
	if command -v flock >/dev/null 2>&1; then
		flock -w 300 9 || die "timed out waiting for another $PROG run on $DIR (lock $DIR/.lock)"
	fi
}

# As root: DIR's own files belong to the server user too.
own_state() {
	((EUID == 0)) || return 0
	local f
	for f in .lock port basedir sockdir postgres.log; do
		if [[ -e $DIR/$f || -L $DIR/$f ]]; then chown -h "$RUN_USER" "$DIR/$f"; fi
	done
}

# ---------------------------------------------------------------- server

init_cluster() {
	if [[ -e $DATA ]] && [[ -n $(ls -A "$DATA" 2>/dev/null) ]]; then
		die "$DATA exists but is not a PostgreSQL data directory (no PG_VERSION); remove it and retry"
	fi
	local nosync=--no-sync
	"$BIN/initdb" --help 2>/dev/null | grep -q -- --no-sync || nosync=--nosync
	msg "initdb $DATA (PostgreSQL $(bindir_version "$BIN"), superuser $RUN_USER)"
	local out
	if ! out=$(as_pg "$BIN/initdb" -D "$DATA" -U "$RUN_USER" --auth=trust --encoding=UTF8 --locale=C "$nosync" 2>&1); then
		printf '%s\n' "$out" >&2
		die "initdb failed"
	fi
	# trust, but only over the unix socket and 127.0.0.1
	as_pg tee "$DATA/pg_hba.conf" >/dev/null <<'EOF'
# Written by scripts/pg.sh: a private development cluster listening on
# 127.0.0.1 only; trust for the unix socket and for 127.0.0.1.
# TYPE  DATABASE     USER  ADDRESS       METHOD
local   all          all                 trust
host    all          all   127.0.0.1/32  trust
local   replication  all                 trust
host    replication  all   127.0.0.1/32  trust
EOF
}

# Settings for a 2-core dev/test/bench machine; rewritten on every start and
# included from postgresql.conf (ALTER SYSTEM still overrides them).
write_conf() {
	local port=$1
	as_pg tee "$DATA/cxsms.conf" >/dev/null <<EOF
# Written by scripts/pg.sh on every start: change the script, not this file.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '${SOCK//\'/\'\'}'
unix_socket_permissions = 0700

max_connections = 200
shared_buffers = 1GB
effective_cache_size = 4GB
work_mem = 8MB
maintenance_work_mem = 128MB
max_worker_processes = 4
max_parallel_workers_per_gather = 1
# Tests leave a prepared transaction behind, as a two-phase-commit tool may.
max_prepared_transactions = 10

# Acknowledged writes must survive a crash: keep these on.
fsync = on
synchronous_commit = on
full_page_writes = on

wal_level = replica
max_wal_size = 2GB
min_wal_size = 256MB
checkpoint_timeout = 15min
checkpoint_completion_target = 0.9

# stderr goes to postgres.log (pg_ctl -l)
logging_collector = off
log_destination = 'stderr'
log_line_prefix = '%m [%p] %q%u@%d '
EOF
	if ! grep -q "^include_if_exists = 'cxsms.conf'" "$DATA/postgresql.conf"; then
		printf "\n# scripts/pg.sh\ninclude_if_exists = 'cxsms.conf'\n" |
			as_pg tee -a "$DATA/postgresql.conf" >/dev/null
	fi
}

start_server() {
	local port size
	for _ in 1 2 3 4 5; do
		port=
		[[ -f $DIR/port ]] && port=$(<"$DIR/port")
		if ! [[ $port =~ ^[0-9]+$ ]] || port_busy "$port"; then
			[[ -n $port ]] && msg "port $port is taken; picking another"
			port=$(pick_port)
		fi
		printf '%s\n' "$port" >"$DIR/port"
		own_state
		write_conf "$port"
		size=$(($(wc -c <"$LOG")))
		msg "starting PostgreSQL on 127.0.0.1:$port (data $DATA, log $LOG)"
		if as_pg "$BIN/pg_ctl" start -D "$DATA" -l "$LOG" -w -t "$START_TIMEOUT" >&2; then
			PORT=$port
			return 0
		fi
		if tail -c +$((size + 1)) "$LOG" | grep -qE 'Address already in use|could not create any TCP/IP sockets'; then
			msg "port $port was taken meanwhile; retrying with another"
			rm -f "$DIR/port"
			continue
		fi
		msg "PostgreSQL failed to start; from $LOG:"
		tail -c +$((size + 1)) "$LOG" | tail -n 40 >&2 || true
		exit 1
	done
	die "PostgreSQL failed to start: no usable port after 5 attempts (see $LOG)"
}

# ---------------------------------------------------------------- commands

cmd_start() {
	mkdir -p "$DIR_ARG" || die "cannot create $DIR_ARG"
	DIR=$(cd "$DIR_ARG" && pwd -P)
	cd /
	locate
	check_access
	lock_dir
	pick_run_user
	prepare_dirs
	own_state

	local want='' state i
	[[ -f $DATA/PG_VERSION ]] && want=$(<"$DATA/PG_VERSION")
	find_bindir "$want"
	PSQL=$(tool psql)
	CREATEDB=$(tool createdb)
	PG_ISREADY=$(tool pg_isready)
	if [[ -n $want ]]; then
		local have
		have=$(bindir_version "$BIN")
		[[ $have == "$want" ]] ||
			die "$DATA was made by PostgreSQL $want but the binaries found ($BIN) are $have; install PostgreSQL $want, set PG_BINDIR, or remove $DIR to start afresh"
	fi

	state=$(pid_state)
	# a cluster that is shutting down: let it finish
	for ((i = 0; i < 120; i++)); do
		[[ $state == ours && $(pidfile_line 8) == stopping ]] || break
		((i == 0)) && msg "the server is shutting down; waiting"
		sleep 0.5
		state=$(pid_state)
	done
	case $state in
	ours | unknown)
		if [[ $state == ours || -n $(pidfile_line 4) ]]; then
			PORT=$(pidfile_line 4)
			[[ $PORT =~ ^[0-9]+$ ]] || die "cannot read the port from $DATA/postmaster.pid"
			msg "already running (pid $(pidfile_line 1))"
			wait_ready "$PORT"
			ensure_db "$PORT"
			url_for "$RUN_USER" "$PORT"
			return 0
		fi
		;;
	other)
		# PID reused by an unrelated process: the server would refuse to start
		msg "stale $DATA/postmaster.pid (pid $(pidfile_line 1) is not this cluster's server); moving it aside"
		as_pg mv -f "$DATA/postmaster.pid" "$DATA/postmaster.pid.stale"
		;;
	dead)
		if [[ -f $DATA/postmaster.pid ]]; then
			msg "stale $DATA/postmaster.pid (pid $(pidfile_line 1) is gone); starting anyway"
		fi
		;;
	esac

	[[ -f $DATA/PG_VERSION ]] || init_cluster
	start_server
	wait_ready "$PORT"
	ensure_db "$PORT"
	url_for "$RUN_USER" "$PORT"
}

cmd_stop() {
	if [[ ! -d $DIR_ARG ]]; then
		msg "nothing to stop: $DIR_ARG does not exist"
		return 0
	fi
	DIR=$(cd "$DIR_ARG" && pwd -P)
	cd /
	locate
	check_access
	lock_dir
	local state
	state=$(pid_state)
	if [[ $state == dead || $state == other ]]; then
		msg "not running ($DIR)"
		return 0
	fi
	pick_run_user
	local want=''
	[[ -f $DATA/PG_VERSION ]] && want=$(<"$DATA/PG_VERSION")
	find_bindir "$want"
	msg "stopping PostgreSQL (pid $(pidfile_line 1), data $DATA)"
	if ! as_pg "$BIN/pg_ctl" stop -D "$DATA" -m fast -w -t 120 >&2; then
		state=$(pid_state)
		if [[ $state == dead || $state == other ]]; then return 0; fi
		msg "could not stop PostgreSQL; last lines of $LOG:"
		tail -n 20 "$LOG" >&2 || true
		exit 1
	fi
}

# cmd_destroy stops the cluster and removes it: DIR and, as root, the
# directories pg.sh may have kept it in instead (basedir, sockdir), which a
# plain rm -rf DIR would leave behind.
cmd_destroy() {
	[[ -d $DIR_ARG ]] || return 0
	(cmd_stop) || return 1
	local f p
	for f in basedir sockdir; do
		if [[ -f $DIR_ARG/$f ]]; then
			p=$(<"$DIR_ARG/$f")
			if [[ -n $p && $p != / ]]; then rm -rf "$p"; fi
		fi
	done
	rm -rf "$DIR_ARG"
}

cmd_url() {
	[[ -d $DIR_ARG ]] || die "no cluster: $DIR_ARG does not exist (start one with: $PROG start $DIR_ARG)"
	DIR=$(cd "$DIR_ARG" && pwd -P)
	cd /
	locate
	[[ -d $DATA ]] || die "no cluster in $DIR (start one with: $PROG start $DIR_ARG)"
	check_access
	local state port status user
	state=$(pid_state)
	[[ $state == ours || $state == unknown ]] ||
		die "the cluster in $DIR is not running (start it with: $PROG start $DIR_ARG)"
	[[ -r $DATA/postmaster.pid ]] || die "cannot read $DATA/postmaster.pid (run as $(owner_of "$DATA") or root)"
	port=$(pidfile_line 4)
	status=$(pidfile_line 8)
	[[ $port =~ ^[0-9]+$ ]] || die "cannot read the port from $DATA/postmaster.pid"
	[[ -z $status || $status == ready ]] ||
		die "the cluster in $DIR is not ready (status: $status)"
	user=$(owner_of "$DATA")
	url_for "$user" "$port"
}

(($# == 2)) || usage
[[ -n $2 ]] || usage
DIR_ARG=$2
case $1 in
start) cmd_start ;;
stop) cmd_stop ;;
url) cmd_url ;;
destroy) cmd_destroy ;;
*) usage ;;
esac
