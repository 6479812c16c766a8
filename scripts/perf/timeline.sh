#!/usr/bin/env bash
# After `swarm-run.sh N --json`: segments the seed sent, and when (ms after launching the getters)
# the first segment arrived, the last getter started, and the first and last finished.
# Usage: timeline.sh WORK N SEED_ID   (SEED_ID: "as peer N" in WORK/seed.log)
set -euo pipefail
cd "$1"
node -e '
const fs = require("fs"); const [n, seedId] = [Number(process.argv[1]), Number(process.argv[2])]
const launch = Number(fs.readFileSync("launch.ms", "utf8"))
let seed = 0, firstSeg = Infinity, lastStart = 0, firstDone = Infinity, lastDone = 0
for (let k = 1; k <= n; k++) {
  const ev = fs.readFileSync(`get${k}.log`, "utf8").split("\n").filter(l => l.startsWith("{")).map(l => JSON.parse(l))
  const at = name => ev.find(e => e.event === name).t - launch
  for (const t of ev.find(e => e.event === "summary").transfers) if (t.from === seedId) seed += t.segments
  firstSeg = Math.min(firstSeg, at("segment")); lastStart = Math.max(lastStart, at("start"))
  firstDone = Math.min(firstDone, at("done")); lastDone = Math.max(lastDone, at("done"))
}
console.log(`seed sent ${seed}; first segment ${firstSeg} ms, last start ${lastStart} ms, first done ${firstDone} ms, last done ${lastDone} ms`)
' "$2" "$3"
