#!/usr/bin/env bash
# Runs the whole test suite (unit, property and integration tests) after installing prerequisites.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prereqs.sh
# Without the binary's jemalloc (Cargo.toml, [features]): nothing here measures it.
cargo test --locked --no-default-features "$@"
