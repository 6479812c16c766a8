// Types for the part of the npm `bittorrent-tracker` server the benchmark uses (the package ships none).
declare module 'bittorrent-tracker/server' {
  import { EventEmitter } from 'node:events'
  import type { Server as HttpServer } from 'node:http'

  /** Announce parameters as parsed by the server (BEP 3); `left` is 0 for a seed. */
  export interface AnnounceParams { left: number, info_hash: string, peer_id: string, event?: string }

  export default class Server extends EventEmitter {
    constructor (opts?: { http?: boolean, udp?: boolean, ws?: boolean, stats?: boolean, interval?: number })
    http: HttpServer | null
    listen (port: number, hostname: string, onListening?: () => void): void
    close (cb?: (err?: Error | null) => void): void
  }
}
