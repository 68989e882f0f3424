import type { AbortOptions } from '@libp2p/interface'
import { setTimeout as sleep } from 'node:timers/promises'

/** Bytes an upload sends per turn of the pace: one Noise frame's worth, so a paced link never takes a burst much larger. */
export const UPLOAD_SLICE_BYTES = 64 * 1024
/** The least pace that may be set: under it a slice would wait for seconds. */
export const MIN_UPLOAD_BYTES_PER_SEC = 64 * 1024

/** A turn's options: whose upload it is (absent: every such turn is one unnamed peer's). */
export interface UploadTurnOptions extends AbortOptions {
  peer?: string
}

interface Turn {
  bytes: number
  go: () => void
}

/**
 * A node's chunk uploads, to every peer together, held to a byte rate: a
 * token bucket of one slice that lets a slice go once the bytes sent before
 * it are paid for (so at most two slices go at once after a pause). An operator sets it a little under the uplink's rate, as BitTorrent
 * clients' users do: an uplink kept full by uploads queues the
 * acknowledgements of the node's own downloads behind them (in the modem, or
 * a drop-tail queue), and the downloads slow.
 *
 * Turns go to the waiting peers in rotation, one slice each, and to a peer's
 * own uploads in the order they asked. Turns in order of asking gave each
 * stream an equal share, so a peer with two one-chunk requests in flight got
 * twice the upload of one with a two-chunk request: in an 8-node swarm one
 * holder sent some peers half what it sent others, all through the pull, and
 * they finished last (docs/swarm.md, session 19). A peer that opens more
 * streams gets no more of the pace.
 */
export class UploadPace {
  readonly bytesPerSec: number
  private readonly burstBytes: number
  private tokens: number
  private refilledAt = performance.now()
  /** Each waiting peer's turns, oldest first; the map's order is the rotation (a peer served goes to its end). */
  private readonly waiting = new Map<string, Turn[]>()
  private releasing = false
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
  async take (bytes: number, options: UploadTurnOptions = {}): Promise<void> {
    const { signal } = options
    signal?.throwIfAborted()
    const peer = options.peer ?? ''
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const turns = this.waiting.get(peer)
        const at = turns?.indexOf(turn) ?? -1
        if (turns == null || at < 0) return
        turns.splice(at, 1)
        if (turns.length === 0) this.waiting.delete(peer)
        reject(signal?.reason)
      }
      const turn: Turn = { bytes, go: () => { signal?.removeEventListener('abort', onAbort); resolve() } }
      signal?.addEventListener('abort', onAbort, { once: true })
      const turns = this.waiting.get(peer)
      if (turns != null) turns.push(turn)
      else this.waiting.set(peer, [turn])
      void this.release()
    })
  }

  /** Lets the waiting turns go, one peer after another, each once the bucket has paid for the slices before it. */
  private async release (): Promise<void> {
    if (this.releasing) return
    this.releasing = true
    try {
      while (this.waiting.size > 0) {
        this.refill()
        // The bucket may go into debt by one slice: the next turn waits for it to be paid back.
        if (this.tokens < 0) {
          const started = performance.now()
          await sleep(Math.ceil(-this.tokens * 1000 / this.bytesPerSec))
          this.waitedMs += performance.now() - started
          continue
        }
        const [peer, turns] = this.waiting.entries().next().value as [string, Turn[]]
        const turn = turns.shift() as Turn
        this.waiting.delete(peer)
        if (turns.length > 0) this.waiting.set(peer, turns)
        this.tokens -= turn.bytes
        turn.go()
      }
    } finally {
      this.releasing = false
    }
  }

  private refill (): void {
    const now = performance.now()
    this.tokens = Math.min(this.burstBytes, this.tokens + (now - this.refilledAt) * this.bytesPerSec / 1000)
    this.refilledAt = now
  }
}
