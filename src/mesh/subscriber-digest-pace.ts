/**
 * When to send the digest a new subscriber asks for. A digest is flooded to
 * every node, but only the peer that just subscribed needs it; when a cluster
 * forms (or a node rejoins and dials many peers) each node sees a dozen
 * subscriptions within seconds, and at one digest each, digests were 40% of
 * the announcements in a 16-node medium replay. Here the first subscriber
 * after a quiet spell is answered at once, and those within the next
 * `spacingMs` share one digest at its end. A node that holds nothing has
 * nothing a digest could tell: it sends none for a subscriber.
 */

/** A burst of subscriptions costs at most one digest per this many ms, after the first. */
export const SUBSCRIBER_DIGEST_SPACING_MS = 2_000

export class SubscriberDigestPace {
  private readonly spacingMs: number
  /** When the last digest went out, whatever asked for it; -Infinity before any. */
  private lastSentAt = -Infinity

  constructor (spacingMs = SUBSCRIBER_DIGEST_SPACING_MS) {
    this.spacingMs = spacingMs
  }

  /** A digest was sent (a subscriber's or the periodic one). */
  sent (now: number): void {
    this.lastSentAt = now
  }

  /**
   * A peer subscribed: 'skip' when this node holds nothing, else how long to
   * wait before sending the digest (0: at once).
   */
  delayFor (now: number, holdsAny: boolean): number | 'skip' {
    if (!holdsAny) return 'skip'
    return Math.max(0, this.lastSentAt + this.spacingMs - now)
  }
}
