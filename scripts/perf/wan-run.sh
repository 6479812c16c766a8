#!/usr/bin/env bash
# One tracker, one seed behind scripts/perf/delay-proxy.mjs (DELAY ms each way: a round trip of twice
# that) and N getters on loopback; prints the wall time from starting the getters to the last exit and
# each getter's CPU. RATE caps the seed's upload (e.g. 100MiB, a 1 Gbit/s link); default none.
# Usage: FILE=path [WORK=dir] [DELAY=20] [RATE=100MiB] wan-run.sh [N] [get args...]
set -euo pipefail
n=${1:-1}; shift || true
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$root/bin/dfss.js"
file=$(realpath "${FILE:?FILE=path of the file to share}")
work=${WORK:-$(mktemp -d)}
cd "$work"; rm -rf o[0-9]* ./*.time ./*.log
"$bin" tracker --host 127.0.0.1 --port 0 > tracker.log 2>&1 &
tracker_pid=$!
for _ in $(seq 200); do grep -q listening tracker.log 2>/dev/null && break; sleep 0.05; done
port=$(grep -o '[0-9]*$' tracker.log)
seed_port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
# The relay listens on the seed's port at 127.0.0.2, which the seed advertises (the advertised address
# is a host; peers dial it at the seed's port).
node "$root/scripts/perf/delay-proxy.mjs" "127.0.0.1:$seed_port" "${DELAY:-20}" 127.0.0.2 "$seed_port" > proxy.log 2>&1 &
proxy_pid=$!
for _ in $(seq 200); do [ -s proxy.log ] && break; sleep 0.05; done
"$bin" share "$file" ${RATE:+--upload-limit "$RATE"} -t "127.0.0.1:$port" --host 127.0.0.1 --port "$seed_port" --advertise 127.0.0.2 > seed.log 2>&1 &
seed_pid=$!
for _ in $(seq 2400); do grep -q sharing seed.log 2>/dev/null && break; sleep 0.05; done
start=$(date +%s%3N)
pids=()
for k in $(seq "$n"); do
  /usr/bin/time -o "get$k.time" -f "get$k %U u %S s %M KiB" "$bin" get "$(basename "$file")" -t "127.0.0.1:$port" -o "o$k" --host 127.0.0.1 "$@" > "get$k.log" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
end=$(date +%s%3N)
kill -INT "$seed_pid" "$tracker_pid" 2>/dev/null || true
kill "$proxy_pid" 2>/dev/null || true
wait 2>/dev/null || true
echo "transfer $(( end - start )) ms, one-way delay ${DELAY:-20} ms, seed cap ${RATE:-none} (work dir $work)"
cat get*.time
for k in $(seq "$n"); do cmp -s "o$k/$(basename "$file")" "$file" || echo "get$k: DIFFERENT"; done
rm -rf o[0-9]*
