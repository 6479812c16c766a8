#!/usr/bin/env bash
# After `swarm-run.sh N --json`: segments the seed sent, and when (ms after launching the getters)
# the first segment arrived, the last getter started, and the first and last finished. Then the three
# phases of a capped swarm: start-up (until the seed's first segment), the seed's pass (until every
# segment arrived once from the seed) and the tail (until the last getter finished), with how long
# segments took to reach every getter after the seed sent them (spread).
# Times come from the getters' `segment` events, which fire once a segment is on disk.
# Usage: timeline.sh WORK N SEED_ID   (SEED_ID: "as peer N" in WORK/seed.log; needs `npm run build`)
set -euo pipefail
phases="$(cd "$(dirname "$0")/../.." && pwd)/dist/src/bench/phases.js" # the bench's own split (npm run build)
cd "$1"
node --input-type=module -e '
import fs from "node:fs"
const { parseGetterEvents, swarmPhases } = await import(process.argv[3])
const [n, seedId] = [Number(process.argv[1]), Number(process.argv[2])]
const launch = Number(fs.readFileSync("launch.ms", "utf8"))
let seed = 0, firstSeg = Infinity, lastStart = 0, firstDone = Infinity, lastDone = 0
const events = []
for (let k = 1; k <= n; k++) {
  const text = fs.readFileSync(`get${k}.log`, "utf8")
  const ev = text.split("\n").filter(l => l.startsWith("{")).map(l => JSON.parse(l))
  const at = name => ev.find(e => e.event === name).t - launch
  for (const t of ev.find(e => e.event === "summary").transfers) if (t.from === seedId) seed += t.segments
  firstSeg = Math.min(firstSeg, at("segment")); lastStart = Math.max(lastStart, at("start"))
  firstDone = Math.min(firstDone, at("done")); lastDone = Math.max(lastDone, at("done"))
  events.push(parseGetterEvents(text))
}
console.log(`seed sent ${seed}; first segment ${firstSeg} ms, last start ${lastStart} ms, first done ${firstDone} ms, last done ${lastDone} ms`)
const p = swarmPhases(events, seedId, launch)
const ms = s => Math.round(s * 1000)
if (p === null) console.log("phases: none (a segment never came from the seed)")
else console.log(`phases: start-up ${ms(p.startupS)} ms, seed pass ${ms(p.passS)} ms, tail ${ms(p.tailS)} ms; spread median ${ms(p.spreadMedianS)} ms, p90 ${ms(p.spreadP90S)} ms, max ${ms(p.spreadMaxS)} ms`)
' "$2" "$3" "$phases"
