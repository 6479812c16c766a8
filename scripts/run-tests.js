#!/usr/bin/env node
// Builds nothing: runs every compiled *.test.js under dist/test with node's test runner
// (Node 20's --test does not expand globs itself).
import { readdirSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import path from 'node:path'

const root = path.join(import.meta.dirname, '..', 'dist', 'test')
const files = readdirSync(root, { recursive: true }).map(String).filter(f => f.endsWith('.test.js')).map(f => path.join(root, f)).sort()
const filter = process.argv[2]
const chosen = filter === undefined ? files : files.filter(f => f.includes(filter))
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...chosen], { stdio: 'inherit' })
process.exit(r.status ?? 1)
