#!/usr/bin/env bash
# Every test of the project, as CI runs it (through `make test`, which sets up packages, Postgres and secrets).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
mkdir -p artifacts

echo "== gofmt"
bad=$(gofmt -l $(git ls-files '*.go' | grep -v '\.pb\.go$') 2>&1 || true)
if [ -n "$bad" ]; then echo "gofmt would change:"; echo "$bad"; exit 1; fi

echo "== go vet"
go vet ./...

echo "== web sdk (node --test)"
# npm ci also installs playwright-core, which the browser test (web/browser_test.go) drives Chromium with.
(cd web && npm ci --no-audit --no-fund --loglevel=error && npm test)

echo "== go test (race)"
go test ${GOTEST_FLAGS:--race -count=1 -timeout 30m} ./...
