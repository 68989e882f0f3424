/**
 * `herd sim replay`: plays a node's request log (src/blob/cache/request-log.ts)
 * through every eviction policy and the offline bound, at the node's quota
 * and others, and says what each would have cost in bytes fetched (from
 * Walrus or peers) and time, against what the node actually saw.
 */
import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { RequestLogFormatError } from '../src/blob/cache/errors.js'
import { createPolicy, type PolicyName } from '../src/blob/cache/policy.js'
import { replay, type Trace } from './policy-sim.js'
import { parseRequestLine, type RequestRecord } from '../src/blob/cache/request-log.js'
import { offlineBound } from './offline-bound.js'

/** A replay holds the whole log in memory: 10 million requests is about 200 MB. */
export const MAX_REPLAY_REQUESTS = 10_000_000

export interface RequestLogSummary {
  trace: Trace
  /** Bytes the node fetched (its misses), and the time those fetches took where the log says. */
  missBytes: number
  walrusBytes: number
  /** Mean ms per byte fetched, over the misses whose time is logged (0 if none). */
  msPerByte: number
}

/** Reads a request log (and its rotated `.1` first, if given as well) into a trace. An unterminated last line, from a crash mid-append, is skipped. */
export async function readRequestLog (paths: string[], options: { signal?: AbortSignal } = {}): Promise<RequestLogSummary> {
  const ids: string[] = []
  const sizes: number[] = []
  const indexOf = new Map<string, number>()
  const requests: number[] = []
  let missBytes = 0
  let walrusBytes = 0
  let timedBytes = 0
  let timedMs = 0
  const add = (record: RequestRecord): void => {
    let object = indexOf.get(record.blob)
    if (object == null) {
      object = ids.length
      ids.push(record.blob)
      sizes.push(record.size)
      indexOf.set(record.blob, object)
    } else if (sizes[object] !== record.size) {
      throw new RequestLogFormatError(`blob ${record.blob} is logged with sizes ${sizes[object] as number} and ${record.size}`)
    }
    requests.push(object)
    if (!record.hit) {
      missBytes += record.size
      if (record.source === 'walrus') walrusBytes += record.size
      if (record.ms != null) {
        timedBytes += record.size
        timedMs += record.ms
      }
    }
  }
  for (const path of paths) {
    const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8', signal: options.signal }), crlfDelay: Infinity })
    let number = 0
    let previous: string | undefined
    for await (const line of lines) {
      if (previous != null) add(parseRequestLine(previous, number))
      number++
      if (requests.length >= MAX_REPLAY_REQUESTS) throw new RequestLogFormatError(`${path}: more than ${MAX_REPLAY_REQUESTS} requests`)
      previous = line === '' ? undefined : line
    }
    if (previous != null) {
      try {
        add(parseRequestLine(previous, number))
      } catch (err) {
        if (!(err instanceof RequestLogFormatError) || !(await endsUnterminated(path))) throw err
      }
    }
  }
  if (requests.length === 0) throw new RequestLogFormatError('the request log is empty')
  const catalogBytes = sizes.reduce((a, b) => a + b, 0)
  return { trace: { ids, sizes, requests: Uint32Array.from(requests), catalogBytes }, missBytes, walrusBytes, msPerByte: timedBytes === 0 ? 0 : timedMs / timedBytes }
}

async function endsUnterminated (path: string): Promise<boolean> {
  const file = await open(path, 'r')
  try {
    const { size } = await file.stat()
    if (size === 0) return false
    const last = Buffer.alloc(1)
    await file.read(last, 0, 1, size - 1)
    return last[0] !== 0x0a
  } finally {
    await file.close()
  }
}

export interface ReplayRow {
  policy: PolicyName | 'offline'
  cacheBytes: number
  byteHitRatio: number
  objectHitRatio: number
  /** Bytes this policy and quota would have fetched (misses). */
  fetchedBytes: number
  /** Against what the node fetched: positive is a saving. */
  savedBytes: number
  /**
   * Of `fetchedBytes`, what Walrus would have served, and the saving in
   * Walrus bytes against the node's: at the log's share of miss bytes that
   * came from Walrus (the rest from peers), since a replay cannot know which
   * peers would have held what.
   */
  walrusBytes: number
  savedWalrusBytes: number
  /** The saving in time, at the log's mean fetch time per byte. */
  savedMs: number
}

export function replayLog (summary: RequestLogSummary, policies: readonly PolicyName[], cacheSizes: readonly number[]): ReplayRow[] {
  const { trace } = summary
  let totalBytes = 0
  for (const object of trace.requests) totalBytes += trace.sizes[object] as number
  // A log with no misses says nothing of where they would come from: as if from Walrus, a node's origin.
  const walrusShare = summary.missBytes === 0 ? 1 : summary.walrusBytes / summary.missBytes
  const rows: ReplayRow[] = []
  for (const cacheBytes of cacheSizes) {
    const runs: Array<[ReplayRow['policy'], ReturnType<typeof replay>]> = policies.map(name => [name, replay(createPolicy(name, { capacityBytes: cacheBytes }), trace, cacheBytes)])
    runs.push(['offline', offlineBound(trace, cacheBytes)])
    for (const [policy, result] of runs) {
      const fetchedBytes = Math.round(totalBytes * (1 - result.byteHitRatio))
      const savedBytes = summary.missBytes - fetchedBytes
      const walrusBytes = Math.round(fetchedBytes * walrusShare)
      rows.push({ policy, cacheBytes, byteHitRatio: result.byteHitRatio, objectHitRatio: result.objectHitRatio, fetchedBytes, savedBytes, walrusBytes, savedWalrusBytes: summary.walrusBytes - walrusBytes, savedMs: savedBytes * summary.msPerByte })
    }
  }
  return rows
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`
const gib = (bytes: number): string => `${(bytes / 1024 ** 3).toFixed(2)} GiB`

/** The rows as Markdown, one table per cache size, with what the node saw on top. */
export function formatReplay (summary: RequestLogSummary, rows: readonly ReplayRow[]): string {
  const lines = [
    `${summary.trace.requests.length} requests for ${summary.trace.ids.length} blobs (${gib(summary.trace.catalogBytes)} distinct); the node fetched ${gib(summary.missBytes)}, ${gib(summary.walrusBytes)} of it from Walrus${summary.msPerByte > 0 ? `, at ${(summary.msPerByte * 1024 ** 2).toFixed(1)} ms per MiB` : ''}.`,
    'Each policy starts empty; saved is against what the node fetched (negative: it would have fetched more); Walrus bytes at the log\'s share of misses from Walrus.',
    ''
  ]
  for (const cacheBytes of [...new Set(rows.map(r => r.cacheBytes))]) {
    lines.push(`### Cache of ${gib(cacheBytes)}`, '', '| policy | byte hit ratio | object hit ratio | fetched | saved | from Walrus | Walrus saved | time saved |', '|---|---:|---:|---:|---:|---:|---:|---:|')
    for (const r of rows.filter(r => r.cacheBytes === cacheBytes)) {
      lines.push(`| ${r.policy} | ${pct(r.byteHitRatio)} | ${pct(r.objectHitRatio)} | ${gib(r.fetchedBytes)} | ${gib(r.savedBytes)} | ${gib(r.walrusBytes)} | ${gib(r.savedWalrusBytes)} | ${summary.msPerByte > 0 ? `${(r.savedMs / 1000).toFixed(1)} s` : '–'} |`)
    }
    lines.push('')
  }
  return lines.join('\n')
}
