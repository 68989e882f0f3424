/**
 * How late announcements arrive, from the send time they claim to their
 * arrival: the coordination window stretches to it (provider-selection.ts).
 *
 * Why per signer: the send time is the signer's claim. Measured over all
 * announcements together, one peer claiming old send times stretched every
 * fetch's window to the cap. Each signer's delay follows its slow
 * announcements and forgets a spike; the mesh's is the lower median across
 * signers, so moving it takes a majority of them.
 */

/** An announcement older than this on arrival is a clock set apart, not gossip: its delay is not counted. */
export const MAX_MEASURED_DELAY_MS = 30_000
/** A signer's delay keeps this much of its last value per announcement. */
const DELAY_DECAY = 0.9
/** Signers remembered, the least recently heard forgotten first. */
export const MAX_DELAY_SIGNERS = 256

export class GossipDelay {
  private readonly bySigner = new Map<string, number>()
  private median?: number

  /** An announcement from `signer` arrived `delayMs` after the time it claims. */
  observe (signer: string, delayMs: number): void {
    if (!(delayMs >= 0 && delayMs <= MAX_MEASURED_DELAY_MS)) return
    const prior = this.bySigner.get(signer)
    this.bySigner.delete(signer)
    this.bySigner.set(signer, Math.max(delayMs, (prior ?? 0) * DELAY_DECAY))
    if (this.bySigner.size > MAX_DELAY_SIGNERS) this.bySigner.delete(this.bySigner.keys().next().value as string)
    this.median = undefined
  }

  forget (signer: string): void {
    if (this.bySigner.delete(signer)) this.median = undefined
  }

  /** Undefined before any announcement arrived. */
  current (): number | undefined {
    if (this.median == null && this.bySigner.size > 0) {
      const sorted = [...this.bySigner.values()].sort((a, b) => a - b)
      this.median = sorted[Math.floor((sorted.length - 1) / 2)]
    }
    return this.median
  }
}
