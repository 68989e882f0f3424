/**
 * When to ask a peer that is itself downloading which chunks it holds (a
 * HAVE request). Each one is a stream of its own, opened, negotiated and
 * recorded in the peer store at both ends: polled every 250 ms, seven peers
 * of a node in a cold swarm of eight cost about twenty times as many streams
 * as the chunks themselves, a large share of the nodes' CPU per byte.
 * A download follows peers through WATCH streams instead (one stream that
 * pushes the bitfield, see BlobClient.watch) only with `fetch.watchPeers`,
 * and then polls those that refuse one.
 */

/** The longest a peer that showed nothing new is left unasked: a chunk it lands is seen within this. */
export const MAX_HAVE_INTERVAL_MS = 1_000

export interface HavePollState {
  /** When its last HAVE answer came (0: never asked). */
  haveAt: number
  /** The wait before the next HAVE: the tuned interval, doubled by each answer that showed no chunk this node wants. */
  haveEveryMs: number
}

/**
 * Whether to ask now: not while the peer is known to hold a chunk this node
 * wants and has yet to ask anyone for (`knowsWork`), which it will ask for as
 * soon as the requests in flight leave room; news of more could not be used
 * then (the download lifts it near a stall, when the fallback is about to
 * read from Walrus whatever no peer is known to hold).
 */
export function haveDue (state: HavePollState, now: number, knowsWork: boolean): boolean {
  return !knowsWork && now - state.haveAt >= state.haveEveryMs
}

/** The wait before the next ask, after an answer that did or did not show a chunk this node wants. */
export function nextHaveEvery (state: HavePollState, intervalMs: number, showedWanted: boolean): number {
  return showedWanted ? intervalMs : Math.max(intervalMs, Math.min(MAX_HAVE_INTERVAL_MS, state.haveEveryMs * 2))
}
