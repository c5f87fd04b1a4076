#!/usr/bin/env bash
# Installs what building and testing upload-gateway needs on a fresh Debian machine, when missing:
# cmake (pingora's zlib-ng build), redis-server (the quota tests start their own), curl (the
# HTTP/2-over-TLS test drives curl --http2), chromium (the browser CORS test runs it headless), clamav-daemon (the scan test starts a
# clamd on its own signature database; no virus database is downloaded), and promtool
# (the metrics test and CI check a real scrape and conf/monitoring/ with it). Debian ships
# promtool only inside the `prometheus` package, which starts a daemon when installed: the
# package is downloaded and just the promtool binary extracted to target/tools/. The S3 tests:
# s3s-fs and boto3 (below); the tus tests: node packages and tuspy (below).
# `--build-only` (the demo): just what building needs.
set -euo pipefail
cd "$(dirname "$0")/.."
build_only=false
[ "${1:-}" = "--build-only" ] && build_only=true
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
if ! $build_only; then
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  [ -x /usr/sbin/clamd ] || command -v clamd >/dev/null 2>&1 || missing+=(clamav-daemon)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The S3 tests: s3s-fs (an S3 server that verifies SigV4, from crates.io, ~2 min to build once)
# and boto3 in a venv under target/tools/py (tests/it/s3.rs); the PDF differential: pypdf in it
# (tests/it/pdf_differential.rs).
if ! $build_only; then
  if ! command -v s3s-fs >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/s3s-fs" ]; then
    echo "installing s3s-fs 0.14.1 with cargo" >&2
    cargo install s3s-fs@0.14.1 --locked --features binary
  fi
  if ! target/tools/py/bin/python -c "import boto3, tusclient, pypdf" >/dev/null 2>&1; then
    echo "creating target/tools/py with boto3, tuspy and pypdf" >&2
    mkdir -p target/tools
    [ -x target/tools/py/bin/python ] || python3 -m venv target/tools/py
    target/tools/py/bin/pip install -q "boto3==1.44.18" "tuspy==1.1.0" "pypdf==7.1.1"
  fi
  # The tus tests: @tus/server, @tus/file-store and tus-js-client (tests/tus/package.json,
  # pinned by its lock file) under target/tools/tus, run with the machine's node.
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  if ! cmp -s tests/tus/package-lock.json target/tools/tus/package-lock.json \
      || [ ! -d target/tools/tus/node_modules/tus-js-client ]; then
    echo "installing the tus test packages into target/tools/tus" >&2
    mkdir -p target/tools/tus
    cp tests/tus/package.json tests/tus/package-lock.json target/tools/tus/
    (cd target/tools/tus && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi

if ! $build_only && ! command -v promtool >/dev/null 2>&1 && [ ! -x target/tools/promtool ]; then
  echo "extracting promtool from Debian's prometheus package into target/tools/" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  chmod 777 "$tmp"
  (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1) || {
    $SUDO apt-get update -qq
    (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1)
  }
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
  mkdir -p target/tools
  cp "$tmp/x/usr/bin/promtool" target/tools/promtool
fi
