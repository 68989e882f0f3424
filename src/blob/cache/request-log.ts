import { appendFile, rename, stat } from 'node:fs/promises'
import { logger } from '@libp2p/logger'
import { z } from 'zod'
import { RequestLogFormatError } from './errors.js'

const log = logger('herd:blob:cache:request-log')

const MAX_BLOB_ID_CHARS = 128

/**
 * One request for a model, as a node saw it: a line of JSON in the request
 * log that `herd sim replay` plays through other policies and quotas.
 */
export const requestRecord = z.strictObject({
  /** When the request came, in ms since the epoch. */
  t: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  blob: z.string().min(1).max(MAX_BLOB_ID_CHARS).regex(/^[A-Za-z0-9_-]+$/),
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /** Where the bytes came from: the node's own cache (a hit), peers, or Walrus. */
  source: z.enum(['cache', 'peer', 'walrus']),
  hit: z.boolean(),
  /** How long until the model was there, in ms (a miss: the download). */
  ms: z.number().min(0).max(86_400_000).optional()
})
export type RequestRecord = z.infer<typeof requestRecord>


/** 64 MiB: about 600,000 requests per file. */
export const DEFAULT_REQUEST_LOG_BYTES = 64 * 1024 * 1024

/** A log line longer than this is refused, not parsed. */
export const MAX_LINE_CHARS = 512

/** Parses one line; `lineNumber` (from 1) goes into the error. */
export function parseRequestLine (line: string, lineNumber: number): RequestRecord {
  if (line.length > MAX_LINE_CHARS) throw new RequestLogFormatError(`line ${lineNumber}: longer than ${MAX_LINE_CHARS} characters`)
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    throw new RequestLogFormatError(`line ${lineNumber}: not JSON`)
  }
  const parsed = requestRecord.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new RequestLogFormatError(`line ${lineNumber}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? 'invalid'}`.trim())
  }
  if (parsed.data.hit !== (parsed.data.source === 'cache')) throw new RequestLogFormatError(`line ${lineNumber}: hit is ${String(parsed.data.hit)} but source is ${parsed.data.source}`)
  return parsed.data
}

export interface RequestLogInit {
  path: string
  /** The log is rotated to `path.1` past this size, so at most twice this is on disk. */
  maxBytes: number
}

/** Records waiting to be written beyond this are dropped (and counted): a stalled disk must not grow memory. */
const MAX_PENDING = 10_000

/**
 * Appends request records to a JSON Lines file, one whole line per record,
 * in order, off the request path; rotates it to `path.1` when the next line
 * would take it past `maxBytes`.
 */
export class RequestLog {
  readonly path: string
  readonly maxBytes: number
  private pending: string[] = []
  private writing?: Promise<void>
  private bytes?: number
  private dropped = 0

  constructor (init: RequestLogInit) {
    if (typeof init.path !== 'string' || init.path === '') throw new TypeError('request log path must be a non-empty string')
    if (!Number.isSafeInteger(init.maxBytes) || init.maxBytes < MAX_LINE_CHARS) throw new RangeError(`request log maxBytes must be an integer of at least ${MAX_LINE_CHARS}, got ${init.maxBytes}`)
    this.path = init.path
    this.maxBytes = init.maxBytes
  }

  /** Records dropped because the writer fell behind. */
  get droppedCount (): number {
    return this.dropped
  }

  record (record: RequestRecord): void {
    if (this.pending.length >= MAX_PENDING) {
      this.dropped++
      return
    }
    const parsed = requestRecord.safeParse(record)
    if (!parsed.success) throw new RequestLogFormatError(`not a request record: ${parsed.error.issues[0]?.path.join('.') ?? ''} ${parsed.error.issues[0]?.message ?? ''}`.trim())
    this.pending.push(JSON.stringify(parsed.data) + '\n')
    this.writing ??= this.drain().finally(() => { this.writing = undefined })
  }

  /** Resolves once everything recorded so far is on disk. */
  async flush (): Promise<void> {
    while (this.writing != null) await this.writing
  }

  private async drain (): Promise<void> {
    while (this.pending.length > 0) {
      const lines = this.pending
      this.pending = []
      try {
        this.bytes ??= await stat(this.path).then(s => s.size, () => 0)
        let chunk = ''
        for (const line of lines) {
          if (this.bytes + chunk.length + line.length > this.maxBytes) {
            if (chunk !== '') await appendFile(this.path, chunk)
            chunk = ''
            await rename(this.path, `${this.path}.1`).catch(() => {})
            this.bytes = 0
          }
          chunk += line
        }
        if (chunk !== '') await appendFile(this.path, chunk)
        this.bytes += chunk.length
      } catch (err) {
        this.dropped += lines.length
        this.bytes = undefined
        log.error('writing the request log %s failed: %e', this.path, err)
      }
    }
  }
}
