#!/usr/bin/env bash
# After `swarm-run.sh N --json`: segments the seed sent, and when (ms after launching the getters)
# the first segment arrived, the last getter started, and the first and last finished. Then the three
# phases of a capped swarm: start-up (until the seed's first segment), the seed's pass (until every
# segment arrived once from the seed) and the tail (until the last getter finished), with how long
# segments took to reach every getter after the seed sent them (spread).
# Times come from the getters' `segment` events, which fire once a segment is on disk.
# Usage: timeline.sh WORK N SEED_ID   (SEED_ID: "as peer N" in WORK/seed.log)
set -euo pipefail
cd "$1"
node -e '
const fs = require("fs"); const [n, seedId] = [Number(process.argv[1]), Number(process.argv[2])]
const launch = Number(fs.readFileSync("launch.ms", "utf8"))
let seed = 0, firstSeg = Infinity, lastStart = 0, firstDone = Infinity, lastDone = 0
const fromSeed = new Map(), lastCopy = new Map()
for (let k = 1; k <= n; k++) {
  const ev = fs.readFileSync(`get${k}.log`, "utf8").split("\n").filter(l => l.startsWith("{")).map(l => JSON.parse(l))
  const at = name => ev.find(e => e.event === name).t - launch
  for (const t of ev.find(e => e.event === "summary").transfers) if (t.from === seedId) seed += t.segments
  firstSeg = Math.min(firstSeg, at("segment")); lastStart = Math.max(lastStart, at("start"))
  firstDone = Math.min(firstDone, at("done")); lastDone = Math.max(lastDone, at("done"))
  for (const e of ev) {
    if (e.event !== "segment") continue
    const t = e.t - launch
    if (e.from === seedId && !(fromSeed.get(e.index) <= t)) fromSeed.set(e.index, t)
    lastCopy.set(e.index, Math.max(lastCopy.get(e.index) ?? 0, t))
  }
}
console.log(`seed sent ${seed}; first segment ${firstSeg} ms, last start ${lastStart} ms, first done ${firstDone} ms, last done ${lastDone} ms`)
if (fromSeed.size === 0) { console.log("phases: the seed sent nothing"); process.exit(0) }
const seedFirst = Math.min(...fromSeed.values()), passEnd = Math.max(...fromSeed.values())
const spread = [...fromSeed].map(([i, t]) => lastCopy.get(i) - t).sort((a, b) => a - b)
const mid = spread.length >> 1 // median as the bench takes it (src/bench/stats.ts): mean of the middle two
const median = spread.length % 2 === 1 ? spread[mid] : (spread[mid - 1] + spread[mid]) / 2
const p90 = spread[Math.min(spread.length - 1, Math.floor(0.9 * spread.length))]
console.log(`phases: start-up ${seedFirst} ms, seed pass ${passEnd - seedFirst} ms (${fromSeed.size} segments), tail ${lastDone - passEnd} ms; spread median ${median} ms, p90 ${p90} ms, max ${spread[spread.length - 1]} ms`)
' "$2" "$3"
