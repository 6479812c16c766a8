#!/usr/bin/env node
// CPU of choosing the requests of one download of N segments: N picks from one peer source holding
// half the segments and one seed, each pick followed by taking the segment out of the candidates, as
// the download engine does; by scanning every candidate (pickRequest) and through the engine's
// CandidateIndex (pickIndexed).
// Usage: node scripts/perf/pick-cost.mjs [N...]   (needs `npm run build`; default 1024 4096 16384)
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'src', 'peer')
const { pickRequest, pickIndexed } = await import(path.join(dist, 'source-picker.js'))
const { CandidateIndex } = await import(path.join(dist, 'candidate-index.js'))
const sizes = process.argv.slice(2).map(Number)
for (const n of sizes.length > 0 ? sizes : [1024, 4096, 16384]) {
  const tie = Float64Array.from({ length: n }, () => Math.random())
  const peerHas = Uint8Array.from({ length: n }, () => (Math.random() < 0.5 ? 1 : 0))
  const sources = [
    { id: 1, score: 0, inFlight: 0, withinShare: true, usable: true, has: i => peerHas[i] === 1 },
    { id: 2, score: 5, inFlight: 0, withinShare: true, usable: true, has: () => true }
  ]
  const availability = i => 1 + peerHas[i]
  const scan = () => {
    const candidates = Array.from({ length: n }, (_, i) => i)
    for (let k = 0; k < n; k++) {
      const p = pickRequest({ sources, candidates, availability, tiebreak: i => tie[i], perSourceLimit: 4 })
      const at = candidates.indexOf(p.index)
      candidates[at] = candidates[candidates.length - 1]
      candidates.pop()
    }
  }
  const indexed = () => {
    const index = new CandidateIndex(tie)
    for (let i = 0; i < n; i++) { index.add(i); index.bump(i, availability(i)) }
    for (let k = 0; k < n; k++) index.remove(pickIndexed({ sources, index, perSourceLimit: 4 }).index)
  }
  const time = fn => { const t = performance.now(); fn(); return (performance.now() - t).toFixed(1) }
  console.log(`${n} segments: scanning ${time(scan)} ms, indexed ${time(indexed)} ms`)
}
