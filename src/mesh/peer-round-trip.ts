/**
 * How long a peer's first bytes take to arrive after this node asks for
 * chunks: the least a download from peers can take, whatever the blob. The
 * hedge (hedge.ts) never reads from Walrus sooner than that after a request,
 * so a fast origin does not race holders before they can answer.
 */

/** Weight of the newest request in the running figure. */
const WEIGHT = 0.3

export class PeerRoundTrip {
  private value?: number

  /** A request to a peer whose first bytes came `ms` after it was made. */
  observe (ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) return
    this.value = this.value == null ? ms : this.value * (1 - WEIGHT) + ms * WEIGHT
  }

  /** Undefined until a request was timed. */
  ms (): number | undefined {
    return this.value
  }
}
