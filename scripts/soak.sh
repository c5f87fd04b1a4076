#!/usr/bin/env bash
# Soak: the release gateway in front of the sink (examples/sink.rs), fed mixed uploads
# (accepted PNG/JPEG/MP4, mismatched, over-size, aborted mid-body) at a steady rate; prints RSS
# and open file descriptors over time and a summary (scripts/soak.py).
# usage: scripts/soak.sh   SOAK_SECONDS (default 1800), SOAK_RATE requests/s (default 40)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SOAK_SECONDS:-1800}
RATE=${SOAK_RATE:-40}
DIR=${SOAK_DIR:-/tmp/ugw-soak}
. scripts/ports.sh
PORT_SINK=$(free_port) PORT_GW=$(free_port)
mkdir -p "$DIR"
scripts/prereqs.sh
# BUILD_PROFILE=dev (CI's smoke) reuses the test build's dependencies instead of a release build.
PROFILE=${BUILD_PROFILE:-release}
cargo build --profile "$PROFILE" --locked -q --bin upload-gateway --example sink
OUT=$PROFILE
[ "$PROFILE" = dev ] && OUT=debug
cat >"$DIR/gw.toml" <<TOML
[[listeners]]
address = "127.0.0.1:$PORT_GW"
[upstreams.sink]
address = "127.0.0.1:$PORT_SINK"
[[routes]]
name = "upload"
path = "/media"
methods = ["POST"]
upstream = "sink"
[routes.upload]
allowed_types = ["image/*", "video/*"]
TOML
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
target/$OUT/examples/sink $PORT_SINK 1 & PIDS+=($!)
RUST_LOG=warn target/$OUT/upload-gateway run -c "$DIR/gw.toml" >"$DIR/gw.log" 2>&1 & GW=$!
PIDS+=($GW)
wait_listening "$PORT_GW"
python3 scripts/soak.py $PORT_GW $GW "$SECS" "$RATE"
