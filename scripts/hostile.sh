#!/usr/bin/env bash
# Hostile load against the release gateway on its default connection settings (in front of the
# sink, examples/sink.rs): HOSTILE_IDLE silent and HOSTILE_TRICKLE trickling connections, timed
# uploads meanwhile, and the per-client cap (scripts/hostile_conns.py prints the figures).
# usage: scripts/hostile.sh   HOSTILE_IDLE (default 5000), HOSTILE_TRICKLE (default 5000);
#   HOSTILE_FIRST_BYTE_S / HOSTILE_HEAD_S shorten the deadlines (default: the gateway's own,
#   10 s / 20 s) and HOSTILE_SETTLE_S the wait before the last RSS sample (default 15), for CI.
set -euo pipefail
cd "$(dirname "$0")/.."
IDLE=${HOSTILE_IDLE:-5000}
TRICKLE=${HOSTILE_TRICKLE:-5000}
DIR=${HOSTILE_DIR:-/tmp/ugw-hostile}
. scripts/ports.sh
PORT_SINK=$(free_port) PORT_GW=$(free_port)
mkdir -p "$DIR"
scripts/prereqs.sh
# BUILD_PROFILE=dev (CI's smoke) reuses the test build's dependencies instead of a release build.
PROFILE=${BUILD_PROFILE:-release}
cargo build --profile "$PROFILE" --locked -q --bin upload-gateway --example sink
OUT=$PROFILE
[ "$PROFILE" = dev ] && OUT=debug
FIRST=${HOSTILE_FIRST_BYTE_S:-10}
HEAD=${HOSTILE_HEAD_S:-20}
# Defaults for every other connection setting: max_connections 16384, max_connections_per_ip
# 256 (conf/gateway.toml); the deadlines are the defaults unless shortened.
SERVER=""
[ "$FIRST" != 10 ] && SERVER+="first_byte_timeout_ms = $((FIRST * 1000))"$'\n'
[ "$HEAD" != 20 ] && SERVER+="head_timeout_ms = $((HEAD * 1000))"$'\n'
cat >"$DIR/gw.toml" <<TOML
[server]
$SERVER
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
allowed_types = ["image/*"]
TOML
ulimit -n "$(ulimit -Hn)"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
target/$OUT/examples/sink $PORT_SINK 1 & PIDS+=($!)
RUST_LOG=warn target/$OUT/upload-gateway run -c "$DIR/gw.toml" >"$DIR/gw.log" 2>&1 & GW=$!
PIDS+=($GW)
wait_listening "$PORT_GW"
python3 scripts/hostile_conns.py $PORT_GW $GW "$IDLE" "$TRICKLE" 256 "$FIRST" "$HEAD" "${HOSTILE_SETTLE_S:-15}"
