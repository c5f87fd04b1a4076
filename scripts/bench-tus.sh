#!/usr/bin/env bash
# A resumable upload of a large MP4 with tus-js-client straight to @tus/server (FileStore) and
# through the gateway (conf/examples/tus.toml: per-upload checks, SHA-256 across PATCHes,
# records in the memory store) in one run, reported as a ratio of wall times, with the
# gateway's CPU seconds for its upload. Each side runs BENCH_TUS_RUNS times; the best counts.
# usage: scripts/bench-tus.sh
#   BENCH_TUS_MIB        file size in MiB (default 512)
#   BENCH_TUS_CHUNK_MIB  PATCH size in MiB (default 8)
#   BENCH_TUS_RUNS       runs per side (default 3)
#   BENCH_DIR            scratch directory (default /tmp/ugw-bench-tus)
#   BUILD_PROFILE        cargo profile of the gateway (default release; CI's smoke uses dev)
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${BENCH_TUS_MIB:-512}
CHUNK=${BENCH_TUS_CHUNK_MIB:-8}
RUNS=${BENCH_TUS_RUNS:-3}
DIR=${BENCH_DIR:-/tmp/ugw-bench-tus}
PROFILE=${BUILD_PROFILE:-release}
scripts/prereqs.sh
cargo build --profile "$PROFILE" --locked -q --bin upload-gateway
OUT=$PROFILE
[ "$PROFILE" = dev ] && OUT=debug
GW=$PWD/target/$OUT/upload-gateway
TOOLS=$PWD/target/tools/tus
cp tests/tus/server.mjs tests/tus/client.mjs "$TOOLS/"
. scripts/ports.sh
PORT_TUS=$(free_port) PORT_GW=$(free_port)
SECRET_FILE=$PWD/tests/fixtures/keys/hs256.secret

rm -rf "$DIR/store" && mkdir -p "$DIR/store"
FILE=$DIR/video-$MIB.mp4
if [ ! -f "$FILE" ]; then
  python3 - "$FILE" "$MIB" tests/fixtures/media/clip.mp4 <<'PY'
import sys
path, mib, mp4 = sys.argv[1], int(sys.argv[2]), open(sys.argv[3], "rb").read()
blk = bytes(range(256)) * 4096
with open(path, "wb") as f:
    f.write(mp4)
    left = (mib << 20) - len(mp4)
    while left > 0:
        f.write(blk[:min(left, len(blk))]); left -= len(blk)
PY
fi
python3 - conf/examples/tus.toml "$DIR/gateway.toml" "$PORT_GW" "$PORT_TUS" "$SECRET_FILE" <<'PY'
import sys
src, dst, gw, tus, secret = sys.argv[1:]
text = open(src).read().replace("0.0.0.0:8080", f"127.0.0.1:{gw}") \
    .replace("127.0.0.1:1080", f"127.0.0.1:{tus}") \
    .replace('algorithms = ["RS256", "ES256"]\njwks_file = "../example/jwks.json"',
             f'algorithms = ["HS256"]\nsecret_file = "{secret}"')
assert "secret_file" in text, "the example changed"
open(dst, "w").write(text)
PY
TOKEN=$(python3 - "$SECRET_FILE" <<'PY'
import base64, hashlib, hmac, json, sys, time
secret = open(sys.argv[1], "rb").read().strip()
b = lambda o: base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=")
now = int(time.time())
body = b({"alg": "HS256", "typ": "JWT"}) + b"." + b({"sub": "bench", "org_id": "bench",
    "iss": "https://id.example.com/", "aud": "uploads", "exp": now + 7200, "iat": now,
    "scope": "media:write"})
sig = base64.urlsafe_b64encode(hmac.new(secret, body, hashlib.sha256).digest()).rstrip(b"=")
print((body + b"." + sig).decode())
PY
)

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
(cd "$TOOLS" && exec node server.mjs $PORT_TUS "$DIR/store") >"$DIR/tus.log" 2>&1 &
pids+=($!)
RUST_LOG=warn "$GW" run -c "$DIR/gateway.toml" >"$DIR/gateway.log" 2>&1 &
GW_PID=$!
pids+=($GW_PID)
for port in $PORT_TUS $PORT_GW; do
  for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done

cpu() { awk '{print $14 + $15}' "/proc/$GW_PID/stat"; }
upload() {
  local endpoint=$1 best=0
  for _ in $(seq "$RUNS"); do
    rm -f "$DIR/store"/*
    local t0 t1 out url
    t0=$(date +%s%N)
    out=$(cd "$TOOLS" && node client.mjs "$endpoint" "$FILE" "$TOKEN" video/mp4 $((CHUNK << 20)))
    t1=$(date +%s%N)
    url=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["ok"], r; print(r["url"])' "$out")
    cmp -s "$FILE" "$DIR/store/${url##*/}" || { echo "the stored file differs" >&2; exit 1; }
    local ns=$((t1 - t0))
    if [ "$best" = 0 ] || [ "$ns" -lt "$best" ]; then best=$ns; fi
  done
  echo "$best"
}
direct=$(upload "http://127.0.0.1:$PORT_TUS/files")
cpu0=$(cpu)
via=$(upload "http://127.0.0.1:$PORT_GW/files")
cpu1=$(cpu)
ticks=$(getconf CLK_TCK)
python3 - "$MIB" "$CHUNK" "$direct" "$via" "$cpu0" "$cpu1" "$ticks" "$RUNS" <<'PY'
import sys
mib, chunk, direct, via, c0, c1, ticks, runs = sys.argv[1:]
mib, direct, via, runs = int(mib), int(direct) / 1e9, int(via) / 1e9, int(runs)
cpu = (int(c1) - int(c0)) / int(ticks) / runs
print(f"tus upload of {mib} MiB in {chunk} MiB PATCHes (best of {runs}): direct {direct:.2f} s, "
      f"via the gateway {via:.2f} s; speed ratio gateway/direct {direct / via:.2f}; gateway CPU "
      f"{cpu:.2f} s per upload ({cpu * 1e6 / (mib << 20):.3f} us per byte)")
PY
