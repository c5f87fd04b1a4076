#!/usr/bin/env bash
# Side-by-side benchmark, all in one run on this machine, reported as ratios:
#   direct (client -> sink), nginx (streaming proxy, no inspection; when installed),
#   plain pingora (the gateway on a route without inspection), gateway (full inspection),
#   gateway + HS256 JWT and gateway + JWT + quotas (memory store), all in front of the same sink
#   (examples/sink.rs).
# `checks` measures what structure checks and clamd scanning add: the same gateway without them,
# with [routes.upload.structure] (all switches), and with structure + [routes.upload.scan] on a
# real clamd (Debian's clamav-daemon, on a one-signature database) — on the 17 KiB JPEG (wrk)
# and a JPEG of BENCH_BIG_MIB MiB (its scan data extended), as ratios.
# usage: scripts/bench.sh [small|big|slow|checks|all]   (default all)
#   BENCH_SECONDS  wrk duration per system for `small` (default 8)
#   BENCH_SLOW_N   concurrent slow uploads for `slow` (default 1000)
#   BENCH_BIG_MIB  size of the `big` upload in MiB (default 1024)
#   BENCH_DIR      scratch directory (default /tmp/ugw-bench)
# Installs wrk, curl and nginx-light when missing (Debian); needs python3.
set -euo pipefail
cd "$(dirname "$0")/.."
WHAT=${1:-all}
SECS=${BENCH_SECONDS:-8}
SLOW_N=${BENCH_SLOW_N:-1000}
BIG_MIB=${BENCH_BIG_MIB:-1024}
DIR=${BENCH_DIR:-/tmp/ugw-bench}
mkdir -p "$DIR/nginx-body" "$DIR/nginx-proxy"
scripts/prereqs.sh
need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null ||
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null; }
fi
# BUILD_PROFILE=dev (CI's smoke) reuses the test build's dependencies instead of a release build.
PROFILE=${BUILD_PROFILE:-release}
cargo build --profile "$PROFILE" --locked -q --bin upload-gateway --example sink
OUT=$PROFILE
[ "$PROFILE" = dev ] && OUT=debug
GW=$PWD/target/$OUT/upload-gateway
SINK=$PWD/target/$OUT/examples/sink
. scripts/ports.sh
PORT_SINK=$(free_port) PORT_NGINX=$(free_port) PORT_PLAIN=$(free_port) PORT_GW=$(free_port)
PORT_JWT=$(free_port) PORT_QUOTA=$(free_port)
B="----bench7MA4YWxkTrZu0gW"

python3 - "$DIR" "$PWD/tests/fixtures/media" "$B" "$BIG_MIB" <<'PY'
import base64, hashlib, hmac, json, os, sys, time
d, media, b, big_mib = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
head = lambda name, fn, ct: ('--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\nContent-Type: %s\r\n\r\n' % (b, name, fn, ct)).encode()
tail = ("\r\n--%s--\r\n" % b).encode()
jpg = open(os.path.join(media, "photo.jpg"), "rb").read()
open(os.path.join(d, "small.body"), "wb").write(head("file", "p.jpg", "image/jpeg") + jpg + tail)
bigjpg = os.path.join(d, "big-jpeg-%d.body" % big_mib)
if not os.path.exists(bigjpg):
    # The corpus JPEG with its entropy-coded data extended (FF is always followed by 00).
    with open(bigjpg, "wb") as f:
        f.write(head("file", "big.jpg", "image/jpeg") + jpg[:-2])
        blk = bytes(range(256)) * 4096
        left = (big_mib << 20) - len(jpg)
        while left > 0:
            f.write(blk[:min(left, len(blk))]); left -= len(blk)
        f.write(b"\xff\xd9" + tail)
big = os.path.join(d, "big-%d.body" % big_mib)
if not os.path.exists(big):
    mp4 = open(os.path.join(media, "clip.mp4"), "rb").read()
    with open(big, "wb") as f:
        f.write(head("file", "v.mp4", "video/mp4") + mp4)
        blk = bytes(range(256)) * 4096
        left = (big_mib << 20) - len(mp4)
        while left > 0:
            f.write(blk[:min(left, len(blk))]); left -= len(blk)
        f.write(tail)
e = lambda x: base64.urlsafe_b64encode(x).rstrip(b"=")
secret = b"bench-secret-0123456789abcdef0123456789abcdef"
open(os.path.join(d, "jwt.secret"), "wb").write(secret)
h = e(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
p = e(json.dumps({"sub": "bench", "scope": "media:write", "exp": int(time.time()) + 86400}).encode())
open(os.path.join(d, "jwt.token"), "w").write((h + b"." + p + b"." + e(hmac.new(secret, h + b"." + p, hashlib.sha256).digest())).decode())
PY
TOKEN=$(cat "$DIR/jwt.token")
ln -sf "$DIR/big-$BIG_MIB.body" "$DIR/big.body"

# gateway configs: $1 port, $2 inspection (0/1), $3 jwt (0/1), $4 quotas (0/1),
# $5 structure checks (0/1), $6 clamd address (scan when set)
gwconf() {
  if [ "${4:-0}" = 1 ]; then
    printf '[quotas]\ndefault_tier = "bench"\n[quotas.tiers.bench]\nstorage_bytes = 1000000000000000\n'
    printf 'file_count = 1000000000000\nrequests = { limit = 1000000000, window_seconds = 60 }\n'
    printf 'upload_bytes = { limit = 1000000000000000, window_seconds = 86400 }\n'
  fi
  # No per-client cap: every benchmark client connects from 127.0.0.1 (1,000 slow uploads).
  printf '[server]\nthreads = 2\nmax_connections_per_ip = 0\n[[listeners]]\naddress = "127.0.0.1:%s"\n[upstreams.sink]\naddress = "127.0.0.1:%s"\n' "$1" "$PORT_SINK"
  [ "$3" = 1 ] && printf '[auth]\n[[auth.jwt.keys]]\nalgorithms = ["HS256"]\nsecret_file = "%s/jwt.secret"\n' "$DIR"
  printf '[[routes]]\nname = "upload"\npath = "/media"\nmethods = ["POST"]\nupstream = "sink"\n'
  [ "$3" = 1 ] && printf 'scopes = ["media:write"]\n'
  if [ "$2" = 1 ]; then
    printf '[routes.upload]\nallowed_types = ["image/*", "video/*"]\nmax_total_bytes = 4400000000\n'
    printf '[routes.upload.max_bytes]\nvideo = 4294967296\nimage = 4294967296\n'
  fi
  if [ "${5:-0}" = 1 ]; then
    printf '[routes.upload.structure]\nmax_width = 20000\nmax_height = 20000\nmax_pixels = 100000000\n'
    printf 'end_marker = true\nmetadata_scripts = true\npdf_scripts = true\n'
  fi
  if [ -n "${6:-}" ]; then
    printf '[routes.upload.scan]\nclamd = "%s"\ntimeout_ms = 60000\nmax_bytes = 4294967296\n' "$6"
  fi
}
gwconf $PORT_PLAIN 0 0 >"$DIR/plain.toml"
gwconf $PORT_GW 1 0 >"$DIR/gw.toml"
gwconf $PORT_JWT 1 1 >"$DIR/gw-jwt.toml"
gwconf $PORT_QUOTA 1 1 1 >"$DIR/gw-quota.toml"
PORT_STRUCT=$(free_port) PORT_SCAN=$(free_port) PORT_CLAMD=$(free_port)
gwconf $PORT_STRUCT 1 0 0 1 >"$DIR/gw-structure.toml"
gwconf $PORT_SCAN 1 0 0 1 "127.0.0.1:$PORT_CLAMD" >"$DIR/gw-scan.toml"

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$DIR/nginx.pid" ] && kill "$(cat "$DIR/nginx.pid")" 2>/dev/null || true
}
trap cleanup EXIT
CHECKS="gateway:$PORT_GW +structure:$PORT_STRUCT"
if [ "$WHAT" = checks ] || [ "$WHAT" = all ]; then
  RUST_LOG=warn "$GW" run -c "$DIR/gw-structure.toml" >"$DIR/gw-structure.log" 2>&1 & PIDS+=($!)
  CLAMD=$(command -v clamd || echo /usr/sbin/clamd)
  if [ -x "$CLAMD" ]; then
    mkdir -p "$DIR/clamd-db"
    python3 -c "import sys; print('Eicar-Body-Test:0:*:' + sys.argv[1].encode().hex())" \
      'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' >"$DIR/clamd-db/bench.ndb"
    printf 'Foreground yes\nTCPSocket %s\nTCPAddr 127.0.0.1\nDatabaseDirectory %s\nLogFile %s\nStreamMaxLength 4000M\n' \
      "$PORT_CLAMD" "$DIR/clamd-db" "$DIR/clamd.log" >"$DIR/clamd.conf"
    "$CLAMD" --config-file="$DIR/clamd.conf" >/dev/null 2>&1 & PIDS+=($!)
    for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/$PORT_CLAMD) 2>/dev/null && break; sleep 0.2; done
    RUST_LOG=warn "$GW" run -c "$DIR/gw-scan.toml" >"$DIR/gw-scan.log" 2>&1 & PIDS+=($!)
    CHECKS="$CHECKS +scan:$PORT_SCAN"
  else
    echo "(clamd not installed: no scan column)"
  fi
fi
"$SINK" $PORT_SINK 1 & PIDS+=($!); PID_sink=$!
SYSTEMS="direct:$PORT_SINK"
if command -v nginx >/dev/null 2>&1; then
  cat >"$DIR/nginx.conf" <<NGX
worker_processes 2;
error_log $DIR/nginx-error.log warn;
pid $DIR/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $DIR/nginx-body;
  proxy_temp_path $DIR/nginx-proxy;
  upstream up { server 127.0.0.1:$PORT_SINK; keepalive 64; }
  server {
    listen 127.0.0.1:$PORT_NGINX;
    client_max_body_size 0;
    location / {
      proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_request_buffering off; proxy_buffering off;
    }
  }
}
NGX
  nginx -c "$DIR/nginx.conf"
  SYSTEMS="$SYSTEMS nginx:$PORT_NGINX"
else
  echo "(nginx not installed: no nginx column)"
fi
for c in plain gw gw-jwt gw-quota; do
  RUST_LOG=warn "$GW" run -c "$DIR/$c.toml" >"$DIR/$c.log" 2>&1 & PIDS+=($!)
  eval "PID_$(echo $c | tr - _)=$!"
done
SYSTEMS="$SYSTEMS pingora:$PORT_PLAIN gateway:$PORT_GW gateway+jwt:$PORT_JWT +quotas:$PORT_QUOTA"
for p in $PORT_SINK $PORT_PLAIN $PORT_GW $PORT_JWT $PORT_QUOTA; do
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$p/" && break; sleep 0.1; done
done
jwt_for() { [ "$1" = gateway+jwt ] || [ "$1" = +quotas ]; }
# The process(es) whose CPU time a system's requests cost: the sink for `direct`, nginx's
# workers, the gateway process otherwise.
pids_for() {
  case $1 in
    direct) echo "$PID_sink" ;;
    nginx) pgrep -P "$(cat "$DIR/nginx.pid")" | paste -sd' ' - ;;
    pingora) echo "$PID_plain" ;;
    gateway) echo "$PID_gw" ;;
    gateway+jwt) echo "$PID_gw_jwt" ;;
    +quotas) echo "$PID_gw_quota" ;;
  esac
}
# utime + stime of the given processes, in clock ticks (/proc/PID/stat fields 14 and 15).
cpu_ticks() { for p in "$@"; do cut -d' ' -f14,15 "/proc/$p/stat"; done | awk '{t += $1 + $2} END {print t + 0}'; }
auth_for() { jwt_for "$1" && echo "Authorization: Bearer $TOKEN" || echo "X-Bench: 1"; }

# Each system must accept the upload before it is timed.
for s in $SYSTEMS; do
  name=${s%%:*}; port=${s##*:}
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Expect:' -H "$(auth_for "$name")" \
    -H "Content-Type: multipart/form-data; boundary=$B" --data-binary @"$DIR/small.body" "http://127.0.0.1:$port/media")
  [ "$code" = 201 ] || { echo "$name answered $code to the sanity upload" >&2; exit 1; }
done

ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print('%.2f' % (a/b) if b else '-')" "$1" "$2"; }

if [ "$WHAT" = small ] || [ "$WHAT" = all ]; then
  echo "== 17 KiB multipart JPEG, wrk -t1 -c64 -d${SECS}s: requests/s, p50, p99, ratio to nginx (or direct)"
  printf 'wrk.method = "POST"\nlocal f = io.open("%s/small.body", "rb"); wrk.body = f:read("*all"); f:close()\nwrk.headers["Content-Type"] = "multipart/form-data; boundary=%s"\n' "$DIR" "$B" >"$DIR/post.lua"
  { cat "$DIR/post.lua"; printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$TOKEN"; } >"$DIR/post-jwt.lua"
  declare -A RPS CPU
  for s in $SYSTEMS; do
    name=${s%%:*}; port=${s##*:}
    script="$DIR/post.lua"; jwt_for "$name" && script="$DIR/post-jwt.lua"
    pids=$(pids_for "$name"); before=$(cpu_ticks $pids)
    out=$(wrk -t1 -c64 -d"${SECS}s" --latency -s "$script" "http://127.0.0.1:$port/media")
    ticks=$(( $(cpu_ticks $pids) - before ))
    RPS[$name]=$(echo "$out" | awk '/Requests\/sec/{print $2}')
    reqs=$(echo "$out" | awk '/requests in/{print $1}')
    # CPU µs per request of the proxy (or sink) process, from its own accounting.
    CPU[$name]=$(python3 -c "import os,sys; t,n=int(sys.argv[1]),int(sys.argv[2]); print('%.0f' % (t * 1e6 / os.sysconf('SC_CLK_TCK') / n) if n else '-')" "$ticks" "${reqs:-0}")
    p50=$(echo "$out" | awk '$1=="50%"{print $2}'); p99=$(echo "$out" | awk '$1=="99%"{print $2}')
    bad=$(echo "$out" | awk '/Non-2xx/{print $NF}')
    base=${RPS[nginx]:-${RPS[direct]}}; cbase=${CPU[nginx]:-${CPU[direct]}}
    printf '%-12s rps=%-10s p50=%-8s p99=%-8s non2xx=%-4s cpu_us=%-5s x_nginx=%-5s cpu_x_nginx=%s\n' "$name" "${RPS[$name]}" "$p50" "$p99" "${bad:-0}" "${CPU[$name]}" "$(ratio "${RPS[$name]}" "$base")" "$(ratio "${CPU[$name]}" "$cbase")"
  done
  echo "quotas on / off (gateway+jwt with and without a memory-store tier): $(ratio "${RPS[+quotas]}" "${RPS[gateway+jwt]}")"
  echo "inspection's CPU per request over the uninspected route: gateway $(ratio "${CPU[gateway]}" "${CPU[pingora]}"), gateway+jwt $(ratio "${CPU[gateway+jwt]}" "${CPU[pingora]}")"
fi

if [ "$WHAT" = big ] || [ "$WHAT" = all ]; then
  echo "== ${BIG_MIB} MiB multipart upload, curl: wall seconds (best of 3), ratio of speed to nginx and direct"
  declare -A WALL
  for s in $SYSTEMS; do
    name=${s%%:*}; port=${s##*:}
    jwt_for "$name" && continue
    best=""
    for _ in 1 2 3; do
      t=$(curl -sS -o /dev/null -w '%{time_total}' -H 'Expect:' -H "Content-Type: multipart/form-data; boundary=$B" \
        -X POST -T "$DIR/big.body" "http://127.0.0.1:$port/media")
      best=$(python3 -c "import sys; v=[float(x) for x in sys.argv[1:] if x]; print(min(v))" "$t" $best)
    done
    WALL[$name]=$best
    base=${WALL[nginx]:-${WALL[direct]}}
    printf '%-12s wall=%-8ss speed_x_nginx=%-6s speed_x_direct=%s\n' "$name" "$best" "$(ratio "$base" "$best")" "$(ratio "${WALL[direct]}" "$best")"
  done
fi

if [ "$WHAT" = slow ] || [ "$WHAT" = all ]; then
  echo "== $SLOW_N concurrent slow 100 MiB uploads (1 KiB/s): resident memory growth per process"
  for s in $SYSTEMS; do
    name=${s%%:*}; port=${s##*:}
    case $name in
      nginx) pids=$(pgrep -P "$(cat "$DIR/nginx.pid")" | paste -sd, -) ;;
      pingora) pids=$PID_plain ;;
      gateway) pids=$PID_gw ;;
      *) continue ;;
    esac
    printf '%-12s ' "$name"; python3 scripts/bench_slow.py "$port" "$SLOW_N" "$pids"
    sleep 3
  done
fi

if [ "$WHAT" = checks ] || [ "$WHAT" = all ]; then
  echo "== structure checks and clamd scanning: the same gateway without them = 1.00"
  for s in $CHECKS; do
    port=${s##*:}
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Expect:' \
      -H "Content-Type: multipart/form-data; boundary=$B" --data-binary @"$DIR/small.body" "http://127.0.0.1:$port/media")
    [ "$code" = 201 ] || { echo "${s%%:*} answered $code to the sanity upload" >&2; exit 1; }
  done
  printf 'wrk.method = "POST"\nlocal f = io.open("%s/small.body", "rb"); wrk.body = f:read("*all"); f:close()\nwrk.headers["Content-Type"] = "multipart/form-data; boundary=%s"\n' "$DIR" "$B" >"$DIR/post.lua"
  declare -A CRPS CWALL
  for s in $CHECKS; do
    name=${s%%:*}; port=${s##*:}
    out=$(wrk -t1 -c64 -d"${SECS}s" --latency -s "$DIR/post.lua" "http://127.0.0.1:$port/media")
    CRPS[$name]=$(echo "$out" | awk '/Requests\/sec/{print $2}')
    bad=$(echo "$out" | awk '/Non-2xx/{print $NF}')
    printf '17 KiB JPEG  %-11s rps=%-10s non2xx=%-4s x_gateway=%s\n' "$name" "${CRPS[$name]}" "${bad:-0}" "$(ratio "${CRPS[$name]}" "${CRPS[gateway]}")"
  done
  for s in $CHECKS; do
    name=${s%%:*}; port=${s##*:}
    best=""
    for _ in 1 2 3; do
      out=$(curl -sS -o /dev/null -w '%{http_code} %{time_total}' -H 'Expect:' -H "Content-Type: multipart/form-data; boundary=$B" \
        -X POST -T "$DIR/big-jpeg-$BIG_MIB.body" "http://127.0.0.1:$port/media")
      [ "${out%% *}" = 201 ] || { echo "$name answered ${out%% *} to the big JPEG" >&2; exit 1; }
      best=$(python3 -c "import sys; v=[float(x) for x in sys.argv[1:] if x]; print(min(v))" "${out##* }" $best)
    done
    CWALL[$name]=$best
    printf '%s MiB JPEG %-11s wall=%-8ss speed_x_gateway=%s\n' "$BIG_MIB" "$name" "$best" "$(ratio "${CWALL[gateway]}" "$best")"
  done
fi
