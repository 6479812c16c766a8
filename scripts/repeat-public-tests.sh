#!/usr/bin/env bash
# Runs each of the four public tests N times in a row (default 20) through `dfss run`, the way the
# upstream checker judges them (diff -q -w against outK.txt, 20 s limit), and stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
times=${1:-20}
declare -A ranks=([test1]=4 [test2]=6 [test3]=5 [test4]=7)
for t in test1 test2 test3 test4; do
  start=$(date +%s.%N)
  for i in $(seq "$times"); do
    dir=$(mktemp -d)
    cp test/fixtures/$t/* "$dir"/
    if ! timeout 20 node bin/dfss.js run -n "${ranks[$t]}" "$dir" -q; then
      echo "FAIL: $t run $i: dfss run failed" >&2; exit 1
    fi
    for out in "$dir"/out*.txt; do
      k=$(basename "$out" .txt); k=${k#out}
      for f in "$dir"/client*_file"$k"; do
        [ -e "$f" ] || continue
        diff -q -w "$f" "$out" >/dev/null || { echo "FAIL: $t run $i: $(basename "$f") differs from out$k.txt" >&2; exit 1; }
      done
    done
    rm -rf "$dir"
  done
  end=$(date +%s.%N)
  awk -v t="$t" -v n="$times" -v s="$start" -v e="$end" 'BEGIN { printf "%s: %d/%d runs passed, %.3f s per run on average\n", t, n, n, (e - s) / n }'
done
