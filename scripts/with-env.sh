#!/usr/bin/env bash
# Runs a command with what the node and the tests need: the Debian packages installed, a database (DATABASE_URL
# as given, else the project-local PostgreSQL, started when needed) and development secrets (generated once into
# the git-ignored .data/secrets.env unless already in the environment).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

bash "$top/scripts/deps.sh"

if [ -z "${DATABASE_URL:-}" ]; then
  bash "$top/scripts/pgctl.sh" start
  DATABASE_URL=$(bash "$top/scripts/pgctl.sh" url)
  export DATABASE_URL
fi

secrets=$top/.data/secrets.env
if [ ! -f "$secrets" ]; then
  mkdir -p "$top/.data"
  umask 077
  {
    echo "BEHAVIOR_AUTH_SIGNING_KEY=$(head -c 48 /dev/urandom | base64 | tr -d '\n=')"
    echo "BEHAVIOR_AUTH_PEPPER=$(head -c 32 /dev/urandom | base64 | tr -d '\n=')"
    echo "BEHAVIOR_AUTH_OPERATOR_KEY=$(head -c 32 /dev/urandom | base64 | tr -d '\n=+/')"
  } > "$secrets"
fi
while IFS='=' read -r k v; do
  [ -n "$k" ] && [ -z "${!k:-}" ] && export "$k=$v"
done < "$secrets"

exec "$@"
