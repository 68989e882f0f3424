import type { RequestLog } from './request-log.js'

/** A miss waits at most this long for its download to finish before it is dropped unlogged (the download failed). */
const MAX_WAIT_MS = 3_600_000
/** Misses waiting at once, beyond which the oldest are dropped: a bound on memory, whatever the fetcher does. */
const MAX_WAITING = 1_000

interface Waiting { since: number, count: number }

/**
 * Turns the fetcher's requests into request-log records: `requested` is the
 * fetcher's one-line hook on every fetch (a hit is logged at once), and
 * `done` takes its `fetch:done` progress event, which says where a miss's
 * bytes came from.
 */
export class RequestRecorder {
  private readonly waiting = new Map<string, Waiting>()

  constructor (private readonly log: RequestLog, private readonly now: () => number = Date.now) {}

  requested (blobId: string, heldSize: number | undefined): void {
    const t = this.now()
    if (heldSize != null) {
      this.log.record({ t, blob: blobId, size: heldSize, source: 'cache', hit: true, ms: 0 })
      return
    }
    for (const [id, w] of this.waiting) {
      if (this.waiting.size < MAX_WAITING && t - w.since < MAX_WAIT_MS) break
      this.waiting.delete(id)
    }
    const w = this.waiting.get(blobId)
    if (w != null) w.count++
    else this.waiting.set(blobId, { since: t, count: 1 })
  }

  done (event: { type: string, blobId?: string, size?: number, bytesFromWalrus?: number }): void {
    if (event.type !== 'fetch:done' || event.blobId == null || event.size == null) return
    const w = this.waiting.get(event.blobId)
    if (w == null) return
    this.waiting.delete(event.blobId)
    const t = this.now()
    const source = (event.bytesFromWalrus ?? 0) > 0 ? 'walrus' : 'peer'
    for (let i = 0; i < w.count; i++) this.log.record({ t: w.since, blob: event.blobId, size: event.size, source, hit: false, ms: t - w.since })
  }
}
