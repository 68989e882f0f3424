/**
 * How long Walrus takes here, split into its two parts: the latency before a
 * read's first byte, and one read's pace after it. Measured from this node's
 * own reads, so the hedge (hedge.ts) and the coordination window judge
 * against the origin this node actually has, not a constant.
 */
import { WalrusPace } from './source-pace.js'

/** A read of at most this many bytes is all latency (a blob's chunk hashes: 32 bytes a chunk). */
export const SMALL_READ_BYTES = 64 * 1024
/** Weight of the newest read in the running latency and pace. */
const WEIGHT = 0.3
/** However fast the reads came, at least this share of a large read's time is its body, not its latency. */
const MIN_BODY_SHARE = 0.25

/**
 * How long reading `bytes` straight from Walrus takes (ms) at `latencyMs`
 * before each read's first byte and `bytesPerSec` per read: reads of
 * `requestBytes` each, `reads` of them in flight at once, as a download
 * makes them. The scale model (sim/scale.ts) uses it with the scenario's
 * network.
 */
export function directReadMs (bytes: number, latencyMs: number, bytesPerSec: number, requestBytes: number, reads: number): number {
  const requests = Math.max(1, Math.ceil(bytes / requestBytes))
  const rounds = Math.ceil(requests / Math.max(1, reads))
  return rounds * (latencyMs + Math.min(bytes, requestBytes) * 1000 / bytesPerSec)
}

export class OriginTiming extends WalrusPace {
  private latency?: number
  private pace?: number

  override observe (bytes: number, ms: number): void {
    if (bytes <= 0 || ms <= 0) return
    if (bytes <= SMALL_READ_BYTES) {
      // All latency: as a pace it would make every source look fast beside Walrus (WalrusPace.minimum).
      this.latency = this.latency == null ? ms : this.latency * (1 - WEIGHT) + ms * WEIGHT
      return
    }
    super.observe(bytes, ms)
    // Until a small read has shown the latency, a large read's whole time counts as its body: a slower pace, never a faster one.
    const body = Math.max(ms * MIN_BODY_SHARE, ms - (this.latency ?? 0))
    const pace = bytes * 1000 / body
    this.pace = this.pace == null ? pace : this.pace * (1 - WEIGHT) + pace * WEIGHT
  }

  /** The latency of a read (ms), once a small read was timed. */
  latencyMs (): number | undefined {
    return this.latency
  }

  /** How long reading `bytes` straight from Walrus takes here (directReadMs); undefined until a large read was timed. */
  directMs (bytes: number, requestBytes: number, reads: number): number | undefined {
    return this.pace == null ? undefined : directReadMs(bytes, this.latency ?? 0, this.pace, requestBytes, reads)
  }
}
