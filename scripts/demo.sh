#!/usr/bin/env bash
# Builds upload-gateway (installing cmake first if missing) and starts the demo: the reference
# media backend and the gateway with the built-in conf/demo.toml, on 127.0.0.1:8080/9000/9091.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prereqs.sh --build-only
exec cargo run --release --locked -- demo "$@"
