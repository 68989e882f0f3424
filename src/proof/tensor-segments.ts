import { closeSync, fdatasync, fstatSync, ftruncate, mkdirSync, openSync, readdirSync, readSync, unlinkSync, writevSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { crc32 } from 'node:zlib'
import { logger } from '@libp2p/logger'
import { DEFAULT_MAX_SEGMENT_BYTES } from './constants.js'
import { ReceiptStoreError } from './errors.js'

const log = logger('herd:proof:tensor-segments')
const datasync = promisify(fdatasync)
const truncate = promisify(ftruncate)

/**
 * A record: magic (4 bytes), seq (u64), inputs length (u32), outputs length
 * (u32), CRC-32 of those 20 bytes and the payload (u32), then the inputs and
 * the outputs. The CRC finds a torn write; the seq, a pointer that outlived
 * the record it named.
 */
const MAGIC = 0x48545331
export const SEGMENT_HEADER_BYTES = 24
/** A record's tensors at most: far above any bundle's budget, so a length past it is damage, not data. */
const MAX_RECORD_TENSOR_BYTES = 1024 * 1024 * 1024
const NAME = /^(\d{10})\.seg$/

/** Where a receipt's tensors are: the segment, the record's offset in it, and the two lengths. */
export interface TensorRef {
  segment: number
  offset: number
  inputs: number
  outputs: number
}

export interface SegmentTensors {
  inputs: Uint8Array
  outputs: Uint8Array
}

const fileName = (id: number): string => `${id.toString().padStart(10, '0')}.seg`

function header (seq: bigint, inputs: number, outputs: number): Buffer {
  const head = Buffer.allocUnsafe(SEGMENT_HEADER_BYTES)
  head.writeUInt32LE(MAGIC, 0)
  head.writeBigUInt64LE(seq, 4)
  head.writeUInt32LE(inputs, 12)
  head.writeUInt32LE(outputs, 16)
  return head
}

/** Records further apart than this in a segment are read apart: the bytes between would be read for nothing. */
const MAX_READ_GAP = 64 * 1024
/**
 * One read covers at most this much, however close its records (a single
 * larger record is read alone): its records are checked (CRC-32) in one go
 * on the event loop, about 0.35 ms a MiB here, so a span is kept short.
 */
const MAX_READ_SPAN = 1024 * 1024

/** An entry of readMany: its place in the answer, the receipt's seq and where its record is. */
interface Wanted { i: number, seq: bigint, ref: TensorRef }

interface ReadSpan { segment: number, start: number, end: number, records: Wanted[] }

const recordLength = (ref: TensorRef): number => TensorSegments.recordBytes(ref.inputs, ref.outputs)

/** Records sorted by segment and offset, gathered into the spans to read. */
function spans (records: Wanted[]): ReadSpan[] {
  const out: ReadSpan[] = []
  let span: ReadSpan | undefined
  for (const record of records) {
    const { ref } = record
    const end = ref.offset + recordLength(ref)
    // Sorted, so a record starts at or after its span's start: within it (a pointer given twice), or past its end by at most the gap.
    if (span != null && span.segment === ref.segment && ref.offset - span.end <= MAX_READ_GAP && Math.max(end, span.end) - span.start <= MAX_READ_SPAN) {
      span.end = Math.max(end, span.end)
      span.records.push(record)
      continue
    }
    span = { segment: ref.segment, start: ref.offset, end, records: [record] }
    out.push(span)
  }
  return out
}

/** A record's tensors when its header names `seq` and `ref`'s lengths and its CRC holds; undefined otherwise. */
function parseRecord (buf: Buffer, seq: bigint, ref: TensorRef): SegmentTensors | undefined {
  if (buf.readUInt32LE(0) !== MAGIC || buf.readBigUInt64LE(4) !== seq || buf.readUInt32LE(12) !== ref.inputs || buf.readUInt32LE(16) !== ref.outputs) return undefined
  if (crc32(buf.subarray(SEGMENT_HEADER_BYTES), crc32(buf.subarray(0, 20))) !== buf.readUInt32LE(20)) return undefined
  return { inputs: buf.subarray(SEGMENT_HEADER_BYTES, SEGMENT_HEADER_BYTES + ref.inputs), outputs: buf.subarray(SEGMENT_HEADER_BYTES + ref.inputs) }
}

/**
 * The queued receipts' tensors, out of level: append-only segment files,
 * each record written once (one writev per append) and read once, when its
 * receipt is sealed. Level keeps the receipt and a TensorRef; it would copy
 * the tensors through its log, memtable, table files and compactions.
 *
 * Crash safety: the store syncs a segment before a synced append or batch
 * record that names its records (and with its timed sync), and a segment is
 * synced before the next one starts, with the directory that names the new
 * one, so only the newest segment can end in a torn record; open()
 * truncates it at its first bad record, and every process writes a segment
 * of its own, so a pointer into what was cut finds no record rather than
 * another one. A read checks the record's CRC, seq and lengths and gives
 * nothing when they fail.
 */
export class TensorSegments {
  readonly dir: string
  private readonly maxSegmentBytes: number
  private active?: { id: number, fd: number, size: number }
  private dirty = false
  /** No queued receipt names the active segment's records and replacing it failed: it goes when the next one starts. */
  private activeEmpty = false
  /** Bytes of every segment file, the active one included. */
  private bytes = new Map<number, number>()
  /** Segments opened for reading (at sealing), closed when they are deleted. */
  private readers = new Map<number, Promise<FileHandle>>()

  constructor (init: { dir: string, maxSegmentBytes?: number }) {
    this.dir = init.dir
    this.maxSegmentBytes = init.maxSegmentBytes ?? DEFAULT_MAX_SEGMENT_BYTES
    if (!(Number.isSafeInteger(this.maxSegmentBytes) && this.maxSegmentBytes >= 1)) throw new RangeError(`maxSegmentBytes must be a positive integer, not ${this.maxSegmentBytes}`)
  }

  /**
   * Deletes the segments no queued receipt names (`live`), truncates the
   * newest of those left at its first torn record, syncs those left, and
   * starts a new one.
   */
  async open (live: ReadonlySet<number>): Promise<{ removed: number, truncatedBytes: number }> {
    mkdirSync(this.dir, { recursive: true })
    const ids: number[] = []
    for (const name of readdirSync(this.dir)) {
      const id = NAME.exec(name)?.[1]
      if (id != null) ids.push(Number(id))
    }
    ids.sort((a, b) => a - b)
    let removed = 0
    for (const id of ids) {
      if (live.has(id)) continue
      unlinkSync(join(this.dir, fileName(id)))
      removed++
    }
    const kept = ids.filter(id => live.has(id))
    let truncatedBytes = 0
    const newest = kept.at(-1)
    for (const id of kept) {
      const fd = openSync(join(this.dir, fileName(id)), 'r+')
      try {
        let size = fstatSync(fd).size
        if (id === newest) {
          const valid = validPrefix(fd, size)
          if (valid < size) {
            await truncate(fd, valid)
            log('%s: cut %d bytes of torn records at offset %d', fileName(id), size - valid, valid)
            truncatedBytes = size - valid
            size = valid
          }
        }
        // A process killed before its sync left records in the page cache only, while level, opened first, has made the
        // records naming them durable (it writes out the log it replays): a power loss now would take the tensors of receipts
        // level keeps. Synced here, before this process's own segment, so that only the newest segment can be torn.
        await datasync(fd)
        this.bytes.set(id, size)
      } finally {
        closeSync(fd)
      }
    }
    const next = (ids.at(-1) ?? 0) + 1
    this.active = { id: next, fd: openSync(join(this.dir, fileName(next)), 'wx'), size: 0 }
    this.bytes.set(next, 0)
    await this.syncDir()
    return { removed, truncatedBytes }
  }

  /** Bytes of the segment files on disk. */
  diskBytes (): number {
    let total = 0
    for (const size of this.bytes.values()) total += size
    return total
  }

  /** A record's size in a segment. */
  static recordBytes (inputs: number, outputs: number): number {
    return SEGMENT_HEADER_BYTES + inputs + outputs
  }

  /**
   * Appends one record per entry, all in one write to the active segment
   * (handed to the OS, not synced), starting the next segment first when
   * they would pass maxSegmentBytes.
   */
  async write (entries: Array<{ seq: bigint, inputs: Uint8Array, outputs: Uint8Array }>): Promise<TensorRef[]> {
    let total = 0
    for (const e of entries) total += TensorSegments.recordBytes(e.inputs.byteLength, e.outputs.byteLength)
    let active = this.opened()
    if (active.size > 0 && active.size + total > this.maxSegmentBytes) active = await this.rotate()
    const parts: Uint8Array[] = []
    const refs: TensorRef[] = []
    let offset = active.size
    for (const { seq, inputs, outputs } of entries) {
      const head = header(seq, inputs.byteLength, outputs.byteLength)
      head.writeUInt32LE(crc32(outputs, crc32(inputs, crc32(head.subarray(0, 20)))), 20)
      parts.push(head, inputs, outputs)
      refs.push({ segment: active.id, offset, inputs: inputs.byteLength, outputs: outputs.byteLength })
      offset += SEGMENT_HEADER_BYTES + inputs.byteLength + outputs.byteLength
    }
    // Written in place rather than on the thread pool: a page-cache copy costs less than the hop (on the thread pool, 30-120 µs more CPU per det receipt, measured), and the level write that names them must follow it.
    let written = 0
    while (written < total) {
      const skip = written
      written += writevSync(active.fd, skipBytes(parts, skip), active.size + skip)
    }
    active.size += total
    this.bytes.set(active.id, active.size)
    this.dirty = true
    this.activeEmpty = false
    return refs
  }

  /** Makes every record written so far durable. */
  async sync (): Promise<void> {
    const active = this.active
    if (active == null || !this.dirty) return
    this.dirty = false
    try {
      await datasync(active.fd)
    } catch (err) {
      this.dirty = true
      throw err
    }
  }

  /**
   * The tensors `ref` names for receipt `seq`, or undefined when the record
   * is gone or torn (a crash cut it).
   */
  async read (seq: bigint, ref: TensorRef): Promise<SegmentTensors | undefined> {
    return (await this.readMany([{ seq, ref }]))[0]
  }

  /**
   * The tensors of each entry, in the order given (undefined for a record
   * gone or torn). Records that lie close together in a segment, as a
   * batch's do, are read in one read on the thread pool: one read a record
   * cost the event loop about 27 µs a receipt at sealing (measured with the
   * MLP's receipts), more than the read itself.
   */
  async readMany (entries: ReadonlyArray<{ seq: bigint, ref: TensorRef }>): Promise<Array<SegmentTensors | undefined>> {
    const out: Array<SegmentTensors | undefined> = new Array(entries.length).fill(undefined)
    const wanted = entries
      .map(({ seq, ref }, i) => ({ i, seq, ref }))
      .filter(({ ref }) => ref.offset + recordLength(ref) <= (this.bytes.get(ref.segment) ?? 0))
      .sort((x, y) => x.ref.segment - y.ref.segment || x.ref.offset - y.ref.offset)
    for (const span of spans(wanted)) {
      const buf = Buffer.allocUnsafe(span.end - span.start)
      const { bytesRead } = await (await this.reader(span.segment)).read(buf, 0, buf.byteLength, span.start)
      for (const { i, seq, ref } of span.records) {
        const at = ref.offset - span.start
        const length = recordLength(ref)
        if (at + length > bytesRead) continue
        out[i] = parseRecord(buf.subarray(at, at + length), seq, ref)
      }
    }
    return out
  }

  private async reader (segment: number): Promise<FileHandle> {
    let reader = this.readers.get(segment)
    if (reader == null) {
      reader = open(join(this.dir, fileName(segment)), 'r')
      this.readers.set(segment, reader)
      reader.catch(() => { this.readers.delete(segment) })
    }
    return reader
  }

  private closeReader (id: number): void {
    const reader = this.readers.get(id)
    if (reader == null) return
    this.readers.delete(id)
    reader.then(async handle => { await handle.close() }).catch(err => { log.error('closing segment %d failed - %e', id, err) })
  }

  /**
   * Deletes segments no queued receipt names any more; the one being written
   * is replaced by a new one at once, as its bytes count toward the store's
   * limit: kept until the next write, a limit it had reached refused that
   * write for good.
   */
  async remove (ids: Iterable<number>): Promise<void> {
    for (const id of ids) {
      if (id !== this.active?.id) {
        this.unlink(id)
        continue
      }
      // Should the replacement fail, the next rotation deletes it.
      this.activeEmpty = true
      if (this.active.size > 0) await this.replaceEmptyActive()
    }
  }

  /** Starts the next segment in place of the one being written, which holds nothing queued (not synced: nothing in it is needed). */
  private async replaceEmptyActive (): Promise<void> {
    const old = this.opened()
    const id = old.id + 1
    const fd = openSync(join(this.dir, fileName(id)), 'wx')
    closeSync(old.fd)
    this.active = { id, fd, size: 0 }
    this.bytes.set(id, 0)
    this.dirty = false
    this.activeEmpty = false
    this.unlink(old.id)
    await this.syncDir()
  }

  private unlink (id: number): void {
    if (!this.bytes.has(id)) return
    this.closeReader(id)
    try {
      unlinkSync(join(this.dir, fileName(id)))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    this.bytes.delete(id)
  }

  /** The segment being written. */
  activeId (): number {
    return this.opened().id
  }

  async close (): Promise<void> {
    const active = this.active
    if (active == null) return
    await this.sync()
    this.active = undefined
    this.bytes.clear()
    closeSync(active.fd)
    const readers = [...this.readers.values()]
    this.readers.clear()
    await Promise.allSettled(readers.map(async reader => { await (await reader).close() }))
  }

  private opened (): { id: number, fd: number, size: number } {
    if (this.active == null) throw new ReceiptStoreError(`the tensor segments in ${this.dir} are not open`)
    return this.active
  }

  /** A new segment's name is durable only once its directory is synced: its records' syncs do not cover it. */
  private async syncDir (): Promise<void> {
    const fd = openSync(this.dir, 'r')
    try {
      await datasync(fd)
    } finally {
      closeSync(fd)
    }
  }

  /** Syncs the full segment (so only the newest can be torn) and starts the next. */
  private async rotate (): Promise<{ id: number, fd: number, size: number }> {
    const old = this.opened()
    await datasync(old.fd)
    this.dirty = false
    const id = old.id + 1
    // Opened before the old one is closed: should the open fail, the old segment stays the one written, not a closed descriptor another file may be given.
    const fd = openSync(join(this.dir, fileName(id)), 'wx')
    closeSync(old.fd)
    this.active = { id, fd, size: 0 }
    this.bytes.set(id, 0)
    await this.syncDir()
    if (this.activeEmpty) this.unlink(old.id)
    this.activeEmpty = false
    return this.active
  }
}

/** The parts after the first `skip` bytes: what a short write left. */
function skipBytes (parts: Uint8Array[], skip: number): Uint8Array[] {
  if (skip === 0) return parts
  const out: Uint8Array[] = []
  for (const part of parts) {
    if (skip >= part.byteLength) {
      skip -= part.byteLength
      continue
    }
    out.push(skip > 0 ? part.subarray(skip) : part)
    skip = 0
  }
  return out
}

/** The length of the run of whole, intact records from the start of the file. */
function validPrefix (fd: number, size: number): number {
  const head = Buffer.allocUnsafe(SEGMENT_HEADER_BYTES)
  let offset = 0
  while (offset + SEGMENT_HEADER_BYTES <= size) {
    if (readSync(fd, head, 0, SEGMENT_HEADER_BYTES, offset) !== SEGMENT_HEADER_BYTES || head.readUInt32LE(0) !== MAGIC) break
    const inputs = head.readUInt32LE(12)
    const outputs = head.readUInt32LE(16)
    if (inputs + outputs > MAX_RECORD_TENSOR_BYTES || offset + SEGMENT_HEADER_BYTES + inputs + outputs > size) break
    const payload = Buffer.allocUnsafe(inputs + outputs)
    if (readSync(fd, payload, 0, payload.byteLength, offset + SEGMENT_HEADER_BYTES) !== payload.byteLength) break
    if (crc32(payload, crc32(head.subarray(0, 20))) !== head.readUInt32LE(20)) break
    offset += SEGMENT_HEADER_BYTES + inputs + outputs
  }
  return offset
}
