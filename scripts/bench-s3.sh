#!/usr/bin/env bash
# A presigned PUT of a large MP4 straight to an S3 server (s3s-fs, which verifies the
# signature and writes the object to disk) and through the gateway (conf/examples/s3.toml:
# inspection, SHA-256, structure checks) in one run, reported as a ratio of wall times, with
# the gateway's CPU seconds for its upload. Each side runs BENCH_S3_RUNS times; the best counts.
# usage: scripts/bench-s3.sh
#   BENCH_S3_MIB   object size in MiB (default 1024: the example's video limit)
#   BENCH_S3_RUNS  runs per side (default 3)
#   BENCH_DIR      scratch directory (default /tmp/ugw-bench-s3)
#   BUILD_PROFILE  cargo profile of the gateway (default release; CI's smoke uses dev)
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${BENCH_S3_MIB:-1024}
RUNS=${BENCH_S3_RUNS:-3}
DIR=${BENCH_DIR:-/tmp/ugw-bench-s3}
PROFILE=${BUILD_PROFILE:-release}
scripts/prereqs.sh
cargo build --profile "$PROFILE" --locked -q --bin upload-gateway
OUT=$PROFILE
[ "$PROFILE" = dev ] && OUT=debug
GW=$PWD/target/$OUT/upload-gateway
S3S=$(command -v s3s-fs || echo "$HOME/.cargo/bin/s3s-fs")
PY=$PWD/target/tools/py/bin/python
KEY=AKIDBENCH0000001 SECRET=bench-secret-for-s3s-fs-0123456789
. scripts/ports.sh
PORT_S3=$(free_port) PORT_GW=$(free_port)

rm -rf "$DIR/root" && mkdir -p "$DIR/root/media"
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
sed -e "s/0.0.0.0:8080/127.0.0.1:$PORT_GW/" -e "s/127.0.0.1:9000/127.0.0.1:$PORT_S3/" \
  -e "s/AKIAIOSFODNN7EXAMPLE/$KEY/" conf/examples/s3.toml > "$DIR/gateway.toml"

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
"$S3S" --host 127.0.0.1 --port $PORT_S3 --access-key $KEY --secret-key $SECRET "$DIR/root" \
  >"$DIR/s3s.log" 2>&1 &
pids+=($!)
RUST_LOG=warn "$GW" run -c "$DIR/gateway.toml" >"$DIR/gateway.log" 2>&1 &
GW_PID=$!
pids+=($GW_PID)
for port in $PORT_S3 $PORT_GW; do
  for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done

# A presigned PUT URL for ENDPOINT (clients sign for the host they send).
presign() {
  "$PY" - "$1" "$KEY" "$SECRET" <<'PY'
import sys, boto3
from botocore.config import Config
c = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2],
                 aws_secret_access_key=sys.argv[3], region_name="us-east-1",
                 config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
print(c.generate_presigned_url("put_object", ExpiresIn=3600,
      Params={"Bucket": "media", "Key": "video.mp4", "ContentType": "video/mp4"}))
PY
}
cpu() { awk '{print $14 + $15}' "/proc/$GW_PID/stat"; }
put() {
  local url=$1 best=0
  for _ in $(seq "$RUNS"); do
    rm -f "$DIR/root/media/video.mp4"
    local t0 t1 code
    t0=$(date +%s%N)
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: video/mp4' -H 'Expect:' \
      -T "$FILE" "$url")
    t1=$(date +%s%N)
    [ "$code" = 200 ] || { echo "PUT answered $code" >&2; exit 1; }
    cmp -s "$FILE" "$DIR/root/media/video.mp4" || { echo "the stored object differs" >&2; exit 1; }
    local ns=$((t1 - t0))
    if [ "$best" = 0 ] || [ "$ns" -lt "$best" ]; then best=$ns; fi
  done
  echo "$best"
}
direct=$(put "$(presign "http://127.0.0.1:$PORT_S3")")
cpu0=$(cpu)
via=$(put "$(presign "http://127.0.0.1:$PORT_GW")")
cpu1=$(cpu)
ticks=$(getconf CLK_TCK)
python3 - "$MIB" "$direct" "$via" "$cpu0" "$cpu1" "$ticks" "$RUNS" <<'PY'
import sys
mib, direct, via, c0, c1, ticks, runs = sys.argv[1:]
mib, direct, via, runs = int(mib), int(direct) / 1e9, int(via) / 1e9, int(runs)
cpu = (int(c1) - int(c0)) / int(ticks) / runs
print(f"presigned PUT of {mib} MiB (best of {runs}): direct {direct:.2f} s, via the gateway "
      f"{via:.2f} s; speed ratio gateway/direct {direct / via:.2f}; gateway CPU {cpu:.2f} s "
      f"per upload ({cpu * 1e6 / (mib << 20):.3f} us per byte)")
PY
