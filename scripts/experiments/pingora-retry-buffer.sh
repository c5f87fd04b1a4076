#!/usr/bin/env bash
# The local, uncommitted pingora experiment of docs/PERFORMANCE.md: pingora-core 0.9.1 with its
# retry buffer holding the body chunks' `Bytes` instead of copies (pingora-retry-buffer.patch),
# built beside the normal release build without touching Cargo.toml (a `--config` patch) and
# into its own target directory. Prints the binary; compare it with target/release's, e.g.
#   scripts/bench.sh small (each binary), or both on $BENCH_DIR/gw-jwt.toml with wrk.
# usage: scripts/experiments/pingora-retry-buffer.sh   (EXP_DIR, default /tmp/ugw-pingora-exp)
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=${EXP_DIR:-/tmp/ugw-pingora-exp}
cargo fetch --locked -q
SRC=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -maxdepth 1 -mindepth 1 -type d | head -1)/pingora-core-0.9.1
[ -d "$SRC" ] || { echo "pingora-core 0.9.1 sources not found under $SRC" >&2; exit 1; }
rm -rf "$DIR/pingora-core" && mkdir -p "$DIR" && cp -r "$SRC" "$DIR/pingora-core"
patch -s -d "$DIR/pingora-core" -p1 <scripts/experiments/pingora-retry-buffer.patch
# The patch resolves pingora-core to a path: keep the repository's Cargo.lock as it is.
cp Cargo.lock "$DIR/Cargo.lock.kept"
trap 'cp "$DIR/Cargo.lock.kept" Cargo.lock' EXIT
CARGO_TARGET_DIR="$DIR/target" cargo build --release -q --bin upload-gateway \
  --config "patch.crates-io.pingora-core.path=\"$DIR/pingora-core\""
echo "$DIR/target/release/upload-gateway"
