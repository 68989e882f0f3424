import type { AbortOptions } from '@libp2p/interface'
import { setTimeout as sleep } from 'node:timers/promises'

/** Bytes an upload sends per turn of the pace: one Noise frame's worth, so a paced link never takes a burst much larger. */
export const UPLOAD_SLICE_BYTES = 64 * 1024
/** The least pace that may be set: under it a slice would wait for seconds. */
export const MIN_UPLOAD_BYTES_PER_SEC = 64 * 1024

/**
 * A node's chunk uploads, to every peer together, held to a byte rate: a
 * token bucket of one slice that lets a slice go once the bytes sent before
 * it are paid for (so at most two slices go at once after a pause). An operator sets it a little under the uplink's rate, as BitTorrent
 * clients' users do: an uplink kept full by uploads queues the
 * acknowledgements of the node's own downloads behind them (in the modem, or
 * a drop-tail queue), and the downloads slow. Turns are taken in order of
 * asking, so concurrent uploads share the rate slice by slice.
 */
export class UploadPace {
  readonly bytesPerSec: number
  private readonly burstBytes: number
  private tokens: number
  private refilledAt = performance.now()
  private turn: Promise<void> = Promise.resolve()
  private waitedMs = 0

  constructor (bytesPerSec: number, burstBytes = UPLOAD_SLICE_BYTES) {
    if (!Number.isSafeInteger(bytesPerSec) || bytesPerSec < MIN_UPLOAD_BYTES_PER_SEC) throw new RangeError(`an upload pace is an integer of at least ${MIN_UPLOAD_BYTES_PER_SEC} bytes a second, not ${bytesPerSec}`)
    if (!Number.isSafeInteger(burstBytes) || burstBytes < 1) throw new RangeError(`an upload burst is a positive integer of bytes, not ${burstBytes}`)
    this.bytesPerSec = bytesPerSec
    this.burstBytes = burstBytes
    this.tokens = burstBytes
  }

  /** Seconds uploads have waited on the pace so far: about one a second while it holds them back. */
  get waitedSeconds (): number {
    return this.waitedMs / 1000
  }

  /** Resolves once `bytes` may be sent; rejects with the signal's reason if it aborts first, and then costs nothing. */
  async take (bytes: number, options: AbortOptions = {}): Promise<void> {
    const mine = this.turn.then(async () => { await this.payFor(bytes, options) })
    this.turn = mine.catch(() => {})
    await mine
  }

  private async payFor (bytes: number, options: AbortOptions): Promise<void> {
    options.signal?.throwIfAborted()
    this.refill()
    // The bucket may go into debt by one slice: the next turn waits for it to be paid back.
    if (this.tokens < 0) {
      const started = performance.now()
      try {
        await sleep(Math.ceil(-this.tokens * 1000 / this.bytesPerSec), undefined, options.signal != null ? { signal: options.signal } : {})
      } finally {
        this.waitedMs += performance.now() - started
      }
    }
    this.refill()
    this.tokens -= bytes
  }

  private refill (): void {
    const now = performance.now()
    this.tokens = Math.min(this.burstBytes, this.tokens + (now - this.refilledAt) * this.bytesPerSec / 1000)
    this.refilledAt = now
  }
}
