#!/usr/bin/env bash
# Starts the ranks of a classic scenario from a bash loop, each under GNU time (no `dfss run`):
# wall time and the peers' mean CPU. Usage: classic-ranks.sh N DIR
set -euo pipefail
n=$1; dir=$2
bin="$(cd "$(dirname "$0")/../.." && pwd)/bin/dfss.js"
rv=$(mktemp -d); out=$(mktemp -d)
start=$(date +%s%3N)
for r in $(seq 0 $((n - 1))); do
  DFSS_RANK=$r DFSS_SIZE=$n DFSS_JOB='' /usr/bin/time -o "$out/$r.time" -f "%e %U %S" "$bin" rank --dir "$dir" --rendezvous "$rv/.dfss-tracker.addr" > /dev/null 2> "$out/$r.err" &
done
wait
echo "wall $(( $(date +%s%3N) - start )) ms"
echo "rank 0: $(cat "$out/0.time")"
cat "$out"/[1-9]*.time | awk '{u += $2; s += $3; k++} END {printf "peers: %d, mean user %.3f s, sys %.3f s, all peers %.2f CPU s\n", k, u / k, s / k, u + s}'
rm -rf "$rv" "$out"
