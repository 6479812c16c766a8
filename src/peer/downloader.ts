import { EventEmitter } from 'node:events'
import { debuglog } from 'node:util'
import { HASH_BYTES, type FileMeta, type Member, type Transfer } from '../protocol/messages.ts'
import { unsafeNameReason } from '../protocol/names.ts'
import { ProtocolError } from '../protocol/errors.ts'
import { Bitfield } from '../storage/bitfield.ts'
import { segmentLength } from '../storage/verify.ts'
import { segmentBuffers } from '../util/buffer-pool.ts'
import type { DownloadFile, SegmentStore, StoredSegment } from '../storage/store.ts'
import { MAX_PIPELINE } from './link-pacing.ts'
import type { ChunkResult, PeerLink } from './peer-link.ts'
import type { PeerPool } from './peer-pool.ts'
import { CandidateIndex } from './candidate-index.ts'
import { pickIndexed, pickRequest, type SourceView } from './source-picker.ts'
import type { SwarmAnswer } from './tracker-link.ts'

/** What the engine needs of the tracker (a TrackerLink, or a session that survives tracker restarts). */
export interface TrackerApi {
  swarm: (file: string, withMeta: boolean) => Promise<SwarmAnswer>
  fileDone: (file: string) => void
}

const log = debuglog('dfss:download')

/**
 * A swarm answer with room for more sources is asked again after this long, doubling up to
 * GROW_MAX_MS while nobody new appears. Peers that start together register over a second or so; one
 * that only knew the first few would otherwise wait for 10 segments from them before it learns of the
 * rest (seen at N = 15: a getter got 1-2 segments a second for its first 5 seconds).
 */
const GROW_FIRST_MS = 200
const GROW_MAX_MS = 3200

/** Tuning of the download engine; every field has a default. */
export interface DownloaderOptions {
  /** Requests in flight to one source. Default 4. */
  perSourceLimit?: number
  /**
   * Requests in flight per file to aim for, spread over the usable sources that hold any segment:
   * each gets ceil(this / sources), between 1 and perSourceLimit. With many sources one each is
   * plenty, and a shorter queue at every capped uploader gets new segments around sooner. Default: no
   * spreading, perSourceLimit for every source.
   */
  requestsPerFile?: number
  /**
   * Most requests in flight to one source whose round trip calls for more than perSourceLimit: a
   * source far away idles while its answer travels unless more requests wait there (see
   * PeerLink.extraRequests). Default MAX_PIPELINE (16), the depth every uploader accepts.
   */
  pipelineCap?: number
  /** Requests in flight in all. Default 32. */
  maxInFlight?: number
  /**
   * Bytes of the segments in flight in all (a request counts until its segment is handed to the
   * store, so a slow disk holds back new requests, not memory). No request is made at or past it,
   * except while fewer than minInFlight are out. Default: no limit beyond maxInFlight.
   */
  maxInFlightBytes?: number
  /**
   * Requests that may be in flight whatever their bytes (large segments still come from several
   * sources at once). Default 1.
   */
  minInFlight?: number
  /** Fraction of a file after which a source is asked only when no other can help. Default 0.5. */
  maxShare?: number
  /** Ask the tracker for the swarm again after this many segments of a file. Default 10. */
  refreshEvery?: number
  /** A request not answered in this time goes to another source. Default 15 000 ms. */
  requestTimeoutMs?: number
  /** Sources that sent this many bad segments are avoided. Default 3. */
  maxBadSegments?: number
  /** Most non-seed sources used per file. Default 12. */
  maxSourcesPerFile?: number
  /** Most seeds used per file. Default 4. */
  maxSeedsPerFile?: number
  /**
   * Verifies a segment (may run off the main thread); `digest` is the SHA-256 of `data` when the link
   * computed it as the data arrived, else null.
   */
  verify: (meta: FileMeta, index: number, data: Buffer, digest: Buffer | null) => Promise<boolean> | boolean
  /** Random numbers in [0, 1); injectable for tests. Default Math.random. */
  random?: () => number
}

interface Source {
  member: Member
  bits: Bitfield | null
  link: PeerLink | null
  connecting: boolean
  asked: number
  /** Requests made of it for this file, ever (for spreading). */
  taken: number
  inFlight: number
  bad: number
  failed: boolean
  lacks: Set<number>
  /** Requests beyond the base its link last asked for (logged when it changes). */
  extra: number
}

/** The inputs of one file's picks during a scheduling pass, and the requests in flight allowed per source. */
interface Plan { views: Array<SourceView & { source: Source }>, perSource: number }

/** A segment received: who sent it, for the progress display and stats. */
export interface SegmentEvent { file: string, index: number, from: number, bytes: number, have: number, total: number }

class FileJob {
  readonly meta: FileMeta
  readonly file: DownloadFile
  readonly total: number
  readonly sources = new Map<number, Source>()
  readonly inFlight = new Map<number, Set<number>>()
  readonly tiebreak: Float64Array
  /** Segments missing and not in flight, with every segment's availability (rarest first). */
  readonly candidates: CandidateIndex
  missing: Set<number>
  sinceRefresh = 0
  /** Segment writes still in progress (the file completes only after the last one). */
  writing = 0
  refreshing = false
  /** A stall asked for a refresh that clears the seeds' "get it elsewhere" answers too. */
  stallPending = false
  stallTimer: NodeJS.Timeout | null = null
  stallBackoffMs = 10
  /** Asks again for a swarm that had room for more sources (see Downloader.watchGrowth). */
  growTimer: NodeJS.Timeout | null = null
  growMs = GROW_FIRST_MS
  finishing = false
  resolve!: () => void
  reject!: (e: Error) => void
  readonly done: Promise<void>

  constructor (meta: FileMeta, file: DownloadFile, random: () => number) {
    this.meta = meta
    this.file = file
    this.total = meta.hashes.length / HASH_BYTES
    this.tiebreak = new Float64Array(this.total)
    for (let i = 0; i < this.total; i++) this.tiebreak[i] = random()
    this.missing = new Set(file.missing())
    this.candidates = new CandidateIndex(this.tiebreak)
    for (const i of this.missing) this.candidates.add(i)
    this.done = new Promise((resolve, reject) => { this.resolve = resolve; this.reject = reject })
  }
}

/**
 * The peer's download engine, the same for classic and real files: swarm from the tracker, have-maps
 * from the sources, fewest-uploads-first source choice, rarest-first segments, several requests in
 * flight per source, verification, swarm refresh every `refreshEvery` segments, and an endgame.
 * Emits `segment` (SegmentEvent), `file-done` (name, path) and `warning`.
 */
export class Downloader extends EventEmitter {
  private readonly tracker: TrackerApi
  private readonly store: SegmentStore
  private readonly pool: PeerPool
  private readonly announce: (file: string, index: number) => void
  private readonly jobs = new Map<string, FileJob>()
  private readonly tally = new Map<string, Transfer>()
  private readonly opts: Required<DownloaderOptions>
  private inFlightTotal = 0
  /** Bytes of the segments of those requests (see DownloaderOptions.maxInFlightBytes). */
  private inFlightBytes = 0
  private readonly selfId: () => number

  constructor (deps: { tracker: TrackerApi, store: SegmentStore, pool: PeerPool, announce: (file: string, index: number) => void, selfId: () => number }, opts: DownloaderOptions) {
    super()
    this.tracker = deps.tracker
    this.store = deps.store
    this.pool = deps.pool
    this.announce = deps.announce
    this.selfId = deps.selfId
    this.opts = {
      perSourceLimit: opts.perSourceLimit ?? 4,
      requestsPerFile: opts.requestsPerFile ?? Number.POSITIVE_INFINITY,
      pipelineCap: opts.pipelineCap ?? Math.max(MAX_PIPELINE, opts.perSourceLimit ?? 4),
      maxInFlight: opts.maxInFlight ?? 32,
      maxInFlightBytes: opts.maxInFlightBytes ?? Number.POSITIVE_INFINITY,
      minInFlight: opts.minInFlight ?? 1,
      refreshEvery: opts.refreshEvery ?? 10,
      maxShare: opts.maxShare ?? 0.5,
      requestTimeoutMs: opts.requestTimeoutMs ?? 15_000,
      maxBadSegments: opts.maxBadSegments ?? 3,
      maxSourcesPerFile: opts.maxSourcesPerFile ?? 12,
      maxSeedsPerFile: opts.maxSeedsPerFile ?? 4,
      verify: opts.verify,
      random: opts.random ?? Math.random
    }
  }

  private readonly addresses = new Map<number, string>()

  /** host:port of a source seen in a swarm answer. */
  sourceAddress (id: number): string | undefined { return this.addresses.get(id) }

  /** Segments received per (source, file), for CLIENT_FIN and the stats. */
  transfers (): Transfer[] { return [...this.tally.values()] }

  /** Downloads one file by name; resolves with the published path. */
  async download (name: string): Promise<void> {
    const why = unsafeNameReason(name)
    if (why !== null) throw new Error(`refused file name ${JSON.stringify(name)}: ${why}`)
    const answer = await this.tracker.swarm(name, true)
    if (answer.meta === null) throw new Error(`"${name}" is not in the tracker's catalog`)
    if (answer.meta.name !== name) throw new Error(`the tracker answered for "${answer.meta.name}" instead of "${name}"`)
    const file = await this.store.openDownload(answer.meta)
    const job = new FileJob(answer.meta, file, this.opts.random)
    this.jobs.set(name, job)
    this.emit('file-start', name, job.total, job.total - job.missing.size, answer.meta.size)
    if (job.missing.size === 0) {
      await this.finishFile(job)
    } else {
      this.applySwarm(job, answer)
      this.schedulePump()
    }
    try {
      await job.done
    } finally {
      if (job.stallTimer !== null) clearTimeout(job.stallTimer)
      if (job.growTimer !== null) clearTimeout(job.growTimer)
      this.jobs.delete(name)
    }
  }

  /** True when source `id` of our download of `file` holds segment `index`, as its have-map and HAVEs tell. */
  sourceHolds (id: number, file: string, index: number): boolean {
    return this.jobs.get(file)?.sources.get(id)?.bits?.has(index) ?? false
  }

  /** Number of sources we currently hold a connection to, per file (for progress). */
  activeSources (name: string): number {
    const job = this.jobs.get(name)
    if (job === undefined) return 0
    let n = 0
    for (const s of job.sources.values()) if (s.link !== null && !s.failed) n++
    return n
  }

  /**
   * Merges a swarm answer: known sources get fresh upload counts (and our asked counts restart), gone
   * ones are dropped, and new members are added fewest-uploads first (random among equals, so peers
   * that start together spread out) up to `maxSourcesPerFile` peers plus `maxSeedsPerFile` seeds.
   */
  private applySwarm (job: FileJob, answer: SwarmAnswer, stalled = false): void {
    const self = this.selfId()
    const members = answer.members.filter(m => m.id !== self)
    for (const m of members) this.addresses.set(m.id, `${m.host}:${m.port}`)
    const seen = new Set(members.map(m => m.id))
    for (const [id, s] of job.sources) {
      if (!seen.has(id) && s.inFlight === 0) {
        this.setBits(job, s, null)
        job.sources.delete(id)
      }
    }
    let peers = 0
    let seeds = 0
    for (const m of members) {
      const s = job.sources.get(m.id)
      if (s === undefined) continue
      s.member = m
      s.asked = 0
      // A peer's "don't have it" is stale once it may have got the segment. A seed's is super-seeding
      // ("take it from the peer I gave it to"): asking again would make it send the segment twice, so
      // that holds until nothing else can be asked.
      if (!m.seed || stalled) s.lacks.clear()
      if (s.failed && s.bad < this.opts.maxBadSegments && !s.connecting && (s.link === null || !s.link.closed)) s.failed = false
      if (m.seed && (s.bits === null || !s.bits.full)) this.setBits(job, s, Bitfield.full(job.total))
      if (s.link === null && !s.connecting && !s.failed) this.connect(job, s)
      if (!s.failed) { if (m.seed) seeds++; else peers++ }
    }
    const fresh = members.filter(m => !job.sources.has(m.id)).map(m => ({ m, r: this.opts.random() }))
    fresh.sort((a, b) => a.m.uploads - b.m.uploads || a.r - b.r)
    let added = 0
    for (const { m } of fresh) {
      if (m.seed ? seeds >= this.opts.maxSeedsPerFile : peers >= this.opts.maxSourcesPerFile) continue
      if (m.seed) seeds++; else peers++
      added++
      const s: Source = { member: m, bits: null, link: null, connecting: false, asked: 0, taken: 0, inFlight: 0, bad: 0, failed: false, lacks: new Set(), extra: 0 }
      job.sources.set(m.id, s)
      if (m.seed) this.setBits(job, s, Bitfield.full(job.total))
      this.connect(job, s)
    }
    this.watchGrowth(job, added > 0, peers < this.opts.maxSourcesPerFile)
  }

  /**
   * While the swarm has room for more peer sources than we know, asks for it again on a timer (besides
   * every `refreshEvery` segments): soon after an answer that brought someone new, then less often.
   */
  private watchGrowth (job: FileJob, grew: boolean, room: boolean): void {
    if (!room || job.finishing || job.missing.size === 0) return
    job.growMs = grew ? GROW_FIRST_MS : Math.min(GROW_MAX_MS, job.growMs * 2)
    if (job.growTimer !== null) return
    job.growTimer = setTimeout(() => {
      job.growTimer = null
      if (job.finishing || job.missing.size === 0) return
      // A file waiting for its turn gains nothing from new sources yet: look again later.
      if (this.waitingForTurn(job)) this.watchGrowth(job, false, true)
      else this.refresh(job)
    }, job.growMs)
  }

  /**
   * True when `job` has no request out only because other files use every request slot (maxInFlight,
   * maxInFlightBytes): it is queued, neither stalled nor in need of a fresh swarm. With thousands of
   * files wanted at once, treating those as stalled asked the tracker for their swarms about ten times
   * per file (79,100 swarm requests for 8,000 files).
   */
  private waitingForTurn (job: FileJob): boolean {
    return job.inFlight.size === 0 && !this.roomForRequest()
  }

  /** True while another request fits within maxInFlight and maxInFlightBytes (see minInFlight). */
  private roomForRequest (): boolean {
    return this.inFlightTotal < this.opts.maxInFlight && (this.inFlightTotal < this.opts.minInFlight || this.inFlightBytes < this.opts.maxInFlightBytes)
  }

  private setBits (job: FileJob, s: Source, bits: Bitfield | null): void {
    if (s.bits !== null) for (let i = 0; i < job.total; i++) if (s.bits.has(i)) job.candidates.bump(i, -1)
    s.bits = bits
    if (bits !== null) for (let i = 0; i < job.total; i++) if (bits.has(i)) job.candidates.bump(i, 1)
  }

  private connect (job: FileJob, s: Source): void {
    s.connecting = true
    const { id, host, port } = s.member
    this.pool.get(id, host, port).then(link => {
      s.connecting = false
      if (job.sources.get(id) !== s) return
      s.link = link
      const name = job.meta.name
      const onMap = (file: string, count: number, bits: Buffer): void => {
        if (file !== name || job.sources.get(id) !== s) return
        if (count !== job.total) { s.failed = true; return }
        if (s.bits === null || !s.bits.full) this.setBits(job, s, new Bitfield(count, bits))
        this.schedulePump()
      }
      const onHave = (file: string, index: number): void => {
        if (file !== name || s.bits === null || job.sources.get(id) !== s) return
        if (s.bits.set(index)) job.candidates.bump(index, 1)
        s.lacks.delete(index) // it has it now, whatever it said before
        // Most HAVEs are for segments we hold, or arrive while every slot is taken: no pass needed then
        // (a slot that frees up schedules its own).
        if (job.missing.has(index) && s.inFlight < this.sourceLimit(s, this.perSource(job)) && this.roomForRequest()) this.schedulePump()
      }
      link.on('have-map', onMap)
      link.on('have', onHave)
      link.once('close', () => {
        link.off('have-map', onMap)
        link.off('have', onHave)
        if (job.sources.get(id) === s) {
          s.link = null
          s.failed = true
          this.setBits(job, s, null)
          this.schedulePump()
        }
      })
      if (!s.member.seed) link.subscribe(name)
      this.schedulePump()
    }, (err: Error) => {
      s.connecting = false
      s.failed = true
      log('cannot reach peer %d: %s', id, err.message)
      this.emit('warning', new Error(`cannot reach peer ${id} at ${host}:${port}: ${err.message}`))
      this.schedulePump()
    })
  }

  private pumpScheduled = false

  /** Coalesces the many events of one loop turn (HAVEs, answers) into one scheduling pass. */
  private schedulePump (): void {
    if (this.pumpScheduled) return
    this.pumpScheduled = true
    setImmediate(() => { this.pumpScheduled = false; this.pump() })
  }

  /** Fills free request slots across all files, one request per file in turn. */
  private pump (): void {
    // What a file's picks are made from, built once per pass and kept up to date as requests go out.
    const plans = new Map<FileJob, Plan>()
    let progress = true
    while (progress && this.roomForRequest()) {
      progress = false
      for (const job of this.jobs.values()) {
        if (!this.roomForRequest()) break
        if (job.finishing || job.missing.size === 0) continue
        if (this.issueOne(job, plans)) progress = true
      }
    }
    for (const job of this.jobs.values()) this.checkStall(job)
  }

  private sourceViews (job: FileJob, base: number): Array<SourceView & { source: Source }> {
    const views: Array<SourceView & { source: Source }> = []
    const shareLimit = Math.ceil(job.total * this.opts.maxShare)
    for (const s of job.sources.values()) {
      const bits = s.bits
      views.push({
        source: s,
        id: s.member.id,
        score: s.member.uploads + s.asked,
        inFlight: s.inFlight,
        limit: this.sourceLimit(s, base),
        withinShare: s.taken < shareLimit,
        usable: bits !== null && s.link !== null && !s.failed,
        has: i => bits !== null && bits.has(i) && !s.lacks.has(i)
      })
    }
    return views
  }

  private plan (job: FileJob, plans: Map<FileJob, Plan>): Plan {
    let plan = plans.get(job)
    if (plan === undefined) {
      const base = this.perSource(job)
      plan = { views: this.sourceViews(job, base), perSource: base }
      plans.set(job, plan)
    }
    return plan
  }

  /**
   * Requests in flight allowed to each source in this pass (see DownloaderOptions.requestsPerFile),
   * spread over the usable sources that hold some segment: peers that joined with nothing do not thin
   * out the requests to the one that has it all. Not only those holding a segment we lack: at the end
   * of a download that would be the few holders of the last segments, whose queues must stay short.
   */
  private perSource (job: FileJob): number {
    const { perSourceLimit, requestsPerFile } = this.opts
    if (requestsPerFile === Number.POSITIVE_INFINITY) return perSourceLimit
    let holding = 0
    for (const s of job.sources.values()) if (s.link !== null && !s.failed && (s.bits?.count ?? 0) > 0) holding++
    return Math.max(1, Math.min(perSourceLimit, Math.ceil(requestsPerFile / Math.max(1, holding))))
  }

  /**
   * Requests in flight allowed to source `s` when the file's base is `base` (perSource): more, up to
   * pipelineCap, when its link's round trip needs them.
   */
  private sourceLimit (s: Source, base: number): number {
    const cap = this.opts.pipelineCap
    if (s.link === null || cap <= base) return base
    const extra = s.link.extraRequests(cap - base)
    if (extra !== s.extra) {
      s.extra = extra
      if (log.enabled) log('peer %d: round trip %s ms, %s ms a segment: %d requests in flight beyond %d', s.member.id, s.link.pacing.roundTripMs.toFixed(1), s.link.pacing.serviceMs.toFixed(1), extra, base)
    }
    return base + extra
  }

  private issueOne (job: FileJob, plans: Map<FileJob, Plan>): boolean {
    // A quick way out when every source is at the most it may ever have; the plan knows this pass's limit.
    const most = Math.max(this.opts.perSourceLimit, this.opts.pipelineCap)
    let free = false
    for (const s of job.sources.values()) {
      if (s.link !== null && s.bits !== null && !s.failed && s.inFlight < most) { free = true; break }
    }
    if (!free) return false
    const { views, perSource: perSourceLimit } = this.plan(job, plans)
    let pick = job.candidates.size > 0 ? pickIndexed({ sources: views, index: job.candidates, perSourceLimit }) : null
    if (pick === null && job.candidates.size === 0) {
      // Endgame: every missing segment is in flight; ask a second source for the ones asked of only one.
      // Only segments still missing: a request still out for one that another source already gave is not lonely.
      const lonely = [...job.inFlight.entries()].filter(([i, asked]) => asked.size === 1 && job.missing.has(i)).map(([i]) => i)
      if (lonely.length === 0) return false
      const endViews = views.map(v => ({ ...v, has: (i: number) => v.has(i) && !(job.inFlight.get(i)?.has(v.id) ?? false) }))
      pick = pickRequest({ sources: endViews, candidates: lonely, availability: i => job.candidates.availability(i), tiebreak: i => job.tiebreak[i] as number, perSourceLimit })
    }
    if (pick === null) return false
    const chosen = job.sources.get(pick.source) as Source
    this.request(job, chosen, pick.index)
    const view = views.find(v => v.source === chosen)
    if (view !== undefined) {
      view.inFlight = chosen.inFlight
      view.score = chosen.member.uploads + chosen.asked
      view.withinShare = chosen.taken < Math.ceil(job.total * this.opts.maxShare)
    }
    return true
  }

  private request (job: FileJob, s: Source, index: number): void {
    const link = s.link as PeerLink
    let asked = job.inFlight.get(index)
    if (asked === undefined) { asked = new Set(); job.inFlight.set(index, asked) }
    asked.add(s.member.id)
    job.candidates.remove(index)
    s.inFlight++
    s.asked++
    s.taken++
    const bytes = segmentLength(job.meta, index)
    this.inFlightTotal++
    this.inFlightBytes += bytes
    link.request(job.meta.name, index, this.opts.requestTimeoutMs).then(async result => {
      try { await this.settle(job, s, index, asked, result) } finally {
        // Still missing with nothing in flight (refused, failed, bad): a candidate again.
        if (job.missing.has(index) && !job.inFlight.has(index)) job.candidates.add(index)
        // Counted in flight until written: a slow disk holds back new requests, not memory.
        this.inFlightTotal--
        this.inFlightBytes -= bytes
        this.schedulePump()
      }
    }).catch((err: Error) => { this.failJob(job, err) })
  }

  private async settle (job: FileJob, s: Source, index: number, asked: Set<number>, result: ChunkResult): Promise<void> {
    s.inFlight--
    asked.delete(s.member.id)
    if (asked.size === 0 && job.inFlight.get(index) === asked) job.inFlight.delete(index)
    if (result.kind === 'no') {
      s.lacks.add(index)
    } else if (result.kind === 'failed') {
      log('request failed: %s', result.error.message)
      this.emit('warning', result.error)
      if (s.link === null || s.link.closed) s.failed = true
      else if (result.error instanceof ProtocolError && result.error.code === 'ERR_TIMEOUT') s.failed = true // stalled: retried after the next swarm answer
      else s.bad++
      if (s.bad >= this.opts.maxBadSegments) s.failed = true
    } else if (job.missing.has(index)) {
      await this.accept(job, s, index, result.data, result.digest)
    } else {
      segmentBuffers.give(result.data) // a duplicate from the endgame: nobody else holds it
    }
  }

  private async accept (job: FileJob, s: Source, index: number, data: Buffer, digest: Buffer | null): Promise<void> {
    const ok = await this.opts.verify(job.meta, index, data, digest)
    try {
      await this.keep(job, s, index, data, ok)
    } finally {
      segmentBuffers.give(data) // written (or dropped): nobody holds it any more
    }
  }

  private async keep (job: FileJob, s: Source, index: number, data: Buffer, ok: boolean): Promise<void> {
    if (!ok) {
      s.bad++
      s.lacks.add(index)
      if (s.bad >= this.opts.maxBadSegments) s.failed = true
      this.emit('warning', new Error(`peer ${s.member.id} sent a bad segment ${index} of "${job.meta.name}"${s.failed ? '; avoiding it' : ''}`))
      return
    }
    if (!job.missing.has(index)) return // a duplicate from the endgame arrived first
    job.missing.delete(index)
    job.stallBackoffMs = 10
    job.writing++
    let stored: StoredSegment
    try {
      stored = await job.file.write(index, data)
    } catch (err) {
      job.writing--
      throw err
    }
    // Held by the store: other peers may fetch it now. It counts as ours once it is on disk.
    this.announce(job.meta.name, index)
    const bytes = data.length
    stored.written.then(() => {
      job.writing--
      const key = `${s.member.id}\0${job.meta.name}`
      const t = this.tally.get(key)
      if (t === undefined) this.tally.set(key, { from: s.member.id, file: job.meta.name, segments: 1 })
      else t.segments++
      this.emit('segment', { file: job.meta.name, index, from: s.member.id, bytes, have: job.total - job.missing.size - job.writing, total: job.total } satisfies SegmentEvent)
      if (job.missing.size === 0 && job.writing === 0) void this.finishFile(job)
    }, (err: Error) => { job.writing--; this.failJob(job, err) })
    if (job.missing.size > 0 && ++job.sinceRefresh >= this.opts.refreshEvery) this.refresh(job)
  }

  private refresh (job: FileJob): void {
    job.sinceRefresh = 0
    if (job.refreshing) return
    job.refreshing = true
    this.tracker.swarm(job.meta.name, false).then(answer => {
      job.refreshing = false
      if (job.finishing) return
      const clearSeedLacks = job.stallPending
      job.stallPending = false
      this.applySwarm(job, answer, clearSeedLacks)
      this.schedulePump()
    }, (err: Error) => { job.refreshing = false; this.failJob(job, err) })
  }

  /** Nothing in flight and nothing to ask: look for new sources, backing off up to one second. */
  private checkStall (job: FileJob): void {
    if (job.finishing || job.missing.size === 0 || job.stallTimer !== null || this.waitingForTurn(job)) return
    for (const s of job.sources.values()) if (s.inFlight > 0 || s.connecting) return
    job.stallTimer = setTimeout(() => {
      job.stallTimer = null
      if (this.waitingForTurn(job)) return // queued meanwhile behind other files: not stalled
      job.stallBackoffMs = Math.min(1000, job.stallBackoffMs * 2)
      job.stallPending = true
      this.refresh(job)
    }, job.stallBackoffMs)
  }

  private async finishFile (job: FileJob): Promise<void> {
    if (job.finishing) return
    job.finishing = true
    try {
      const where = await job.file.complete()
      this.tracker.fileDone(job.meta.name)
      this.emit('file-done', job.meta.name, where)
      job.resolve()
    } catch (err) {
      job.reject(err as Error)
    }
  }

  private failJob (job: FileJob, err: Error): void {
    job.finishing = true
    job.reject(err)
  }
}
