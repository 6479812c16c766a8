import { addressSpaceLimit, readProc } from './proc-limits.ts'

/**
 * Page-aligned memory, which writes with O_DIRECT need. Node's Buffers have no alignment guarantee
 * and no way to ask for one; the memory of a WebAssembly.Memory starts on a page boundary.
 */

/** Alignment that direct writes need of memory, file offsets and lengths (covers 512 B and 4 KiB blocks). */
export const PAGE_ALIGN = 4096

/** The part of the WebAssembly global used here (not in the lib settings of this project). */
declare const WebAssembly: { Memory: new (descriptor: { initial: number, maximum?: number }) => { buffer: ArrayBuffer } }

/** WebAssembly memory comes in pages of 64 KiB. */
const WASM_PAGE = 64 * 1024

const aligned = new WeakSet<ArrayBuffer>()

/**
 * A zeroed ArrayBuffer of at least `length` bytes (a whole number of 64 KiB pages) whose first byte is
 * on a page boundary. Throws RangeError when the process cannot reserve it: V8 reserves about 10 GiB
 * of address space for each such memory (resident is only what is touched), too much under a tight
 * `ulimit -v`.
 */
export function alignedArrayBuffer (length: number): ArrayBuffer {
  const pages = alignedSize(length) / WASM_PAGE
  const ab = new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer
  aligned.add(ab)
  return ab
}

/** Bytes {@link alignedArrayBuffer} gives for `length`. */
export function alignedSize (length: number): number {
  return Math.max(1, Math.ceil(length / WASM_PAGE)) * WASM_PAGE
}

/** True when `ab` came from {@link alignedArrayBuffer}. */
export function isAlignedMemory (ab: ArrayBufferLike): boolean {
  return ab instanceof ArrayBuffer && aligned.has(ab)
}

/** True when `view` starts on a page boundary of memory from {@link alignedArrayBuffer}. */
export function isPageAligned (view: Uint8Array): boolean {
  return isAlignedMemory(view.buffer) && view.byteOffset % PAGE_ALIGN === 0
}

let unlimited: boolean | null = null

/**
 * True when the process has no address-space limit, so that many aligned buffers may be reserved at
 * once without crowding out threads or the heap. Read once per process.
 */
export function addressSpaceUnlimited (): boolean {
  unlimited ??= addressSpaceLimit(readProc('/proc/self/limits')) === null
  return unlimited
}
