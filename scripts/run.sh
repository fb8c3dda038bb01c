#!/usr/bin/env bash
# make run: start the service for a developer. Without DATABASE_URL it starts
# (or reuses) a private PostgreSQL under .data/ and says where it is.
set -euo pipefail
bin=$1 pgdir=$2
cd "$(dirname "$0")/.."
# Settings in .env count as set: the service reads .env, but the environment
# wins over it, so nothing here may override what .env says.
# The service reads .env as godotenv does, which also takes "export KEY=",
# "KEY = value" and "KEY: value": so must this. The last assignment of a key
# wins. A blank value ("KEY=", 'KEY=""', "KEY= # comment", as a template
# leaves them) sets nothing, for the service as here: in an unquoted value,
# # starts a comment only after whitespace, so "KEY=#Zq9" is set (to #Zq9).
# A byte-order mark (Windows editors write one) is not part of the first name.
in_env_file() {
  [ -f .env ] || return 1
  sed '1s/^\xEF\xBB\xBF//' .env | grep -E "^[[:space:]]*(export[[:space:]]+)?$1[[:space:]]*[=:]" | tail -n 1 |
    grep -Eq "^[^=:]*[=:]([^[:space:]\"']|[[:space:]]+[^[:space:]#\"']|[[:space:]]*(\"[^\"]|'[^']))"
}
if [ -z "${DATABASE_URL:-}" ] && ! in_env_file DATABASE_URL; then
  DATABASE_URL=$(scripts/pg.sh start "$pgdir")
  export DATABASE_URL
  # Root keeps the cluster elsewhere when the postgres user cannot reach
  # $pgdir (pg.sh: basedir); say where the data really is.
  data=$pgdir
  if [ -f "$pgdir/basedir" ]; then data="$(cat "$pgdir/basedir") (recorded in $pgdir/basedir)"; fi
  echo "private PostgreSQL: $DATABASE_URL (data in $data; stop it with 'make db-stop')" >&2
fi
# Development defaults, announced so nobody mistakes them for production.
if [ -z "${WEBHOOK_SECRET:-}" ] && ! in_env_file WEBHOOK_SECRET; then
  export WEBHOOK_SECRET=dev-secret
  where=""
  if [ -z "${LISTEN_HOST:-}" ] && ! in_env_file LISTEN_HOST; then where=" (on every interface unless LISTEN_HOST=127.0.0.1)"; fi
  echo "WEBHOOK_SECRET not set: using 'dev-secret' for development$where" >&2
fi
if [ -z "${ADMIN_TOKEN:-}" ] && ! in_env_file ADMIN_TOKEN; then
  export ADMIN_TOKEN=dev-admin
  echo "ADMIN_TOKEN not set: using 'dev-admin' for development" >&2
fi
if [ -z "${SIMULATOR_ENABLED:-}" ] && ! in_env_file SIMULATOR_ENABLED; then
  export SIMULATOR_ENABLED=true
fi
# The service prints where it listens (and so where the dashboard is) once
# it does: PORT may come from .env, which only it reads.
exec "$bin" serve
