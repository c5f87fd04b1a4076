#!/usr/bin/env bash
# A burst of small uploads from distinct tenants against the release gateway with quotas (HS256
# JWTs, org_id = tenant) on a real redis-server, then on the memory store (scripts/burst.py
# prints the answers, decisions and latencies of each).
# usage: scripts/burst.sh [redis|memory|both]   BURST_N (default 10000), BURST_SECONDS (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
STORES=${1:-both}
[ "$STORES" = both ] && STORES="redis memory"
N=${BURST_N:-10000}
SECS=${BURST_SECONDS:-5}
DIR=${BURST_DIR:-/tmp/ugw-burst}
. scripts/ports.sh
mkdir -p "$DIR"
scripts/prereqs.sh
PROFILE=${BUILD_PROFILE:-release}
cargo build --profile "$PROFILE" --locked -q --bin upload-gateway --example sink
OUT=$PROFILE
[ "$PROFILE" = dev ] && OUT=debug
head -c 32 /dev/urandom | base64 >"$DIR/jwt.secret"
ulimit -n "$(ulimit -Hn)"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
PORT_SINK=$(free_port)
target/$OUT/examples/sink $PORT_SINK 1 & PIDS+=($!)
for store in $STORES; do
  PORT_GW=$(free_port)
  STORE_CONF='store = "memory"'
  if [ "$store" = redis ]; then
    PORT_REDIS=$(free_port)
    redis-server --port "$PORT_REDIS" --save "" --appendonly no --maxclients 20000 \
      >"$DIR/redis.log" 2>&1 & PIDS+=($!)
    for _ in $(seq 100); do redis-cli -p "$PORT_REDIS" ping >/dev/null 2>&1 && break; sleep 0.1; done
    STORE_CONF="store = \"redis\"
redis_url = \"redis://127.0.0.1:$PORT_REDIS/\""
  fi
  cat >"$DIR/gw-$store.toml" <<TOML
[[listeners]]
address = "127.0.0.1:$PORT_GW"
[upstreams.sink]
address = "127.0.0.1:$PORT_SINK"
[auth]
[auth.jwt]
tenant_claim = "org_id"
[[auth.jwt.keys]]
algorithms = ["HS256"]
secret_file = "$DIR/jwt.secret"
[quotas]
$STORE_CONF
default_tier = "free"
[quotas.tiers.free]
storage_bytes = 1073741824
file_count = 1000
upload_bytes = { limit = 5368709120, window_seconds = 86400 }
requests = { limit = 600, window_seconds = 60 }
[[routes]]
name = "upload"
path = "/media"
methods = ["POST"]
upstream = "sink"
scopes = ["media:write"]
[routes.upload]
allowed_types = ["image/*"]
TOML
  RUST_LOG=warn target/$OUT/upload-gateway run -c "$DIR/gw-$store.toml" >"$DIR/gw-$store.log" 2>&1 &
  GW=$!
  PIDS+=($GW)
  wait_listening "$PORT_GW"
  echo "== $store store"
  python3 scripts/burst.py "$PORT_GW" "$GW" "$N" "$SECS" "$DIR/jwt.secret" || status=$?
  kill "$GW" 2>/dev/null || true
  [ "${status:-0}" = 0 ] || { tail -5 "$DIR/gw-$store.log"; exit "$status"; }
done
