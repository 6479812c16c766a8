#!/usr/bin/env bash
# Peak resident memory of every process while one seed sends a SIZE file (default 4G) to three getters
# on loopback (GNU time's %M). Usage: scripts/memory-check.sh [SIZE] [WORKDIR]
set -euo pipefail
size=${1:-4G}
work=${2:-$(mktemp -d)}
bin="$(cd "$(dirname "$0")/.." && pwd)/bin/dfss.js"
cd "$work"
[ -f "data-$size.bin" ] || head -c "$size" /dev/urandom > "data-$size.bin"
rm -rf o1 o2 o3 ./*.time ./*.log
/usr/bin/time -o tracker.time -f "tracker %M KiB" node "$bin" tracker --port 0 > tracker.log 2>&1 &
for _ in $(seq 200); do grep -q listening tracker.log 2>/dev/null && break; sleep 0.05; done
port=$(grep -o '[0-9]*$' tracker.log)
/usr/bin/time -o seed.time -f "seed %M KiB" node "$bin" share "data-$size.bin" -t "127.0.0.1:$port" --host 127.0.0.1 > seed.log 2>&1 &
for _ in $(seq 1200); do grep -q sharing seed.log 2>/dev/null && break; sleep 0.05; done
start=$(date +%s.%N)
pids=()
for k in 1 2 3; do
  /usr/bin/time -o "get$k.time" -f "get$k %M KiB" node "$bin" get "data-$size.bin" -t "127.0.0.1:$port" -o "o$k" --host 127.0.0.1 > "get$k.log" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
end=$(date +%s.%N)
pkill -INT -f "dfss.js share data-$size.bin -t 127.0.0.1:$port" || true
pkill -INT -f "dfss.js tracker --port 0" || true
wait
awk -v s="$start" -v e="$end" 'BEGIN { printf "transfer %.1f s\n", e - s }'
cat tracker.time seed.time get1.time get2.time get3.time
for k in 1 2 3; do cmp -s "o$k/data-$size.bin" "data-$size.bin" && echo "get$k: identical" || echo "get$k: DIFFERENT"; done
rm -rf o1 o2 o3
