#!/usr/bin/env bash
# `make pgo`: refreshes cmd/behaviord/default.pgo, the CPU profile the Go compiler optimizes the node with
# (profile-guided optimization: hot calls inlined, interface calls devirtualized). The profile is taken from a
# node built without it, under `behaviorctl load` (the same closed-loop load as `make bench`), for 30 s.
# Loopback only.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

tmp=$(mktemp -d)
node=
cleanup() { [ -n "$node" ] && kill "$node" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

go build -pgo=off -o "$tmp/behaviord" ./cmd/behaviord
go build -o bin/ ./cmd/behaviorctl
hport=$(port); aport=$(port)
BEHAVIOR_AUTH_ARGON2_MEMORY_KIB=64 BEHAVIOR_AUTH_RATE_PER_ADDRESS=10000000 BEHAVIOR_AUTH_RATE_PER_ACCOUNT=1000000 \
BEHAVIOR_LIMITS_MESSAGES_PER_SECOND=100000 BEHAVIOR_LIMITS_MESSAGE_BURST=100000 BEHAVIOR_TELEMETRY_LOG_LEVEL=warn \
  "$tmp/behaviord" -config cluster.yaml -http.listen 127.0.0.1:$hport -telemetry.pprof=true \
  -cluster.automanaged.port $aport -cluster.automanaged.hosts 127.0.0.1:$aport 2>"$tmp/node.log" & node=$!
for _ in $(seq 1 100); do curl -fs http://127.0.0.1:$hport/readyz >/dev/null 2>&1 && break; sleep 0.2; done
GOMAXPROCS=1 bin/behaviorctl load -url http://127.0.0.1:$hport -users 32 -duration 2s -prefix 61 >/dev/null
GOMAXPROCS=1 bin/behaviorctl load -url http://127.0.0.1:$hport -users 32 -duration 36s -prefix 61 >/dev/null 2>&1 &
load=$!
sleep 3
curl -fsS -o "$tmp/cpu.pprof" "http://127.0.0.1:$hport/debug/pprof/profile?seconds=30"
wait "$load"
go tool pprof -top "$tmp/cpu.pprof" >/dev/null # a readable profile, or fail before replacing the old one
cp "$tmp/cpu.pprof" cmd/behaviord/default.pgo
echo "cmd/behaviord/default.pgo refreshed ($(wc -c < cmd/behaviord/default.pgo) bytes)"
