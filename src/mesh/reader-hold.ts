import { setTimeout as sleep } from 'node:timers/promises'

/** How often a hold looks again whether peers still fetch the blob. */
const READER_HOLD_POLL_MS = 100

export interface ReaderHoldInit {
  /** Opens the blob for peers (it is not evicted while open); undefined when it is gone already. */
  open: () => Promise<{ release: () => void } | undefined>
  /** Whether a peer is still listed as fetching the blob. */
  fetching: () => boolean
  /** The hold ends after this long whatever peers say: their claim holds this node's room for no longer. */
  maxMs: number
  signal: AbortSignal
  pollMs?: number
}

/**
 * Keeps a blob this node has just downloaded from eviction while peers are
 * still listed as fetching it, at most `maxMs`. Those peers may be waiting on
 * this node's share of the Walrus reads: in a live `small` replay a node
 * evicted a one-chunk model 40 ms after it landed, for a download of its own
 * waiting for room, before the peer waiting on its share asked for it, and
 * that peer then read the model from Walrus itself, 0.8 s later than it
 * would have had it from the node. Resolves once the hold is released.
 */
export async function holdForReaders (init: ReaderHoldInit): Promise<void> {
  if (!init.fetching() || init.signal.aborted) return
  const handle = await init.open()
  if (handle == null) return
  const until = Date.now() + init.maxMs
  try {
    while (Date.now() < until && init.fetching() && !init.signal.aborted) {
      await sleep(Math.min(init.pollMs ?? READER_HOLD_POLL_MS, until - Date.now()), undefined, { signal: init.signal }).catch(() => {})
    }
  } finally {
    handle.release()
  }
}
