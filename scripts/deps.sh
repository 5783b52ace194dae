#!/usr/bin/env bash
# Installs the Debian packages the project builds, tests and runs with. Idempotent: quiet and quick when
# everything is present. Run as root (CI and the dev machines are root); otherwise through sudo when available.
set -euo pipefail

# libfaiss-dev/libopenblas-dev: the index/ cgo binding. protobuf-compiler: `make proto`.
# postgresql: the embedded default database (binaries under /usr/lib/postgresql/15/bin).
# chromium: the browser end-to-end test. etcd-server: the etcd cluster provider.
# nodejs/npm: the web SDK's own tests (node --test) and playwright-core for the browser test.
PKGS=(libfaiss-dev libopenblas-dev protobuf-compiler postgresql chromium etcd-server nodejs npm)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    # Node.js and npm may come from outside Debian (a preinstalled toolchain): accept working binaries.
    if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
    if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's postgresql package starts a cluster on 5432; the project uses its own, so leave that one alone.
