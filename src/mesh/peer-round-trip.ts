/**
 * How long a peer's first bytes take to arrive after this node asks for
 * chunks: the least a download from peers can take, whatever the blob. The
 * hedge (hedge.ts) never reads from Walrus sooner than that after a request,
 * so a fast origin does not race holders before they can answer.
 *
 * The figure is the fastest of the recent requests, capped: it lengthens the
 * hedge's margin, and a peer that holds back its first bytes must not
 * lengthen it (a running average of first-byte times let one stalling holder
 * put off every download's hedge by its stall). A peer can only make it
 * shorter, which is the hedge as it was before the floor.
 */

/** Requests the fastest is drawn from. */
const RECENT = 32
/** The most the floor may add to the hedge's margin, whatever requests found. */
export const MAX_PEER_ROUND_TRIP_MS = 250

export class PeerRoundTrip {
  private readonly recent: number[] = []
  private next = 0

  /** A request to a peer whose first bytes came `ms` after it was made. */
  observe (ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) return
    if (this.recent.length < RECENT) this.recent.push(ms)
    else this.recent[this.next] = ms
    this.next = (this.next + 1) % RECENT
  }

  /** Undefined until a request was timed. */
  ms (): number | undefined {
    if (this.recent.length === 0) return undefined
    return Math.min(MAX_PEER_ROUND_TRIP_MS, ...this.recent)
  }
}
