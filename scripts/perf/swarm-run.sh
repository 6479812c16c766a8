#!/usr/bin/env bash
# One tracker, one seed and N getters of FILE on loopback, each under GNU time; prints the wall time
# from starting the getters to the last exit and every process's CPU and peak RSS. Getters log --json
# events to WORK/getK.log (see timeline.sh). Extra arguments go to every `dfss get`; SEEDARGS to share.
# Usage: FILE=path [WORK=dir] [SEEDARGS="--upload-limit 20MiB"] swarm-run.sh N [get args...]
set -euo pipefail
n=${1:?N getters}; shift
bin="$(cd "$(dirname "$0")/../.." && pwd)/bin/dfss.js"
file=$(realpath "${FILE:?FILE=path of the file to share}")
work=${WORK:-$(mktemp -d)}
cd "$work"; rm -rf o[0-9]* ./*.time ./*.log
"$bin" tracker --host 127.0.0.1 --port 0 > tracker.log 2>&1 &
tracker_pid=$!
for _ in $(seq 200); do grep -q listening tracker.log 2>/dev/null && break; sleep 0.05; done
port=$(grep -o '[0-9]*$' tracker.log)
# shellcheck disable=SC2086
/usr/bin/time -o seed.time -f "seed %U u %S s %M KiB" "$bin" share "$file" ${SEEDARGS:-} -t "127.0.0.1:$port" --host 127.0.0.1 > seed.log 2>&1 &
seed_time_pid=$! # GNU time, which ignores SIGINT while it waits: the seed is its child
for _ in $(seq 2400); do grep -q sharing seed.log 2>/dev/null && break; sleep 0.05; done
echo "$(date +%s%3N)" > launch.ms
pids=()
for k in $(seq "$n"); do
  /usr/bin/time -o "get$k.time" -f "get$k %U u %S s %M KiB" "$bin" get "$(basename "$file")" -t "127.0.0.1:$port" -o "o$k" --host 127.0.0.1 "$@" > "get$k.log" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
end=$(date +%s%3N)
# Only this run's seed and tracker, not others started with the same arguments.
pkill -INT -P "$seed_time_pid" || true
kill -INT "$tracker_pid" || true
wait
echo "transfer $(( end - $(cat launch.ms) )) ms (work dir $work)"
cat seed.time get*.time
for k in $(seq "$n"); do cmp -s "o$k/$(basename "$file")" "$file" || echo "get$k: DIFFERENT"; done
rm -rf o[0-9]*
