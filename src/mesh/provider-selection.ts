/**
 * Which node reads which part of a blob: the rules every downloader applies
 * alike, with no messages beyond the gossiped provider states. Pure code, so
 * the simulation's scale mode runs the same rules (sim/scale.ts).
 */
import type { Provider } from './provider-index.js'

/** Holders first, then peers still fetching: a whole copy is the surer source. */
export function orderProviders (providers: Provider[]): Provider[] {
  return providers.sort((a, b) => (a.state === b.state ? 0 : a.state === 'holder' ? -1 : 1))
}

/** A node reading a blob from Walrus, and when its download began (as it announced it). */
export interface Reader {
  peerId: string
  since: number
}

/**
 * The nodes downloading one blob now (this node among them; a peer listed
 * twice counts once, as first listed), in an order every node computes
 * alike, so each knows its rank without asking: by when their
 * downloads began, then by ID. A reader that comes late ranks last, so its
 * share is cut from the end of the blob and the others' shares, which they
 * read from their starts, stay theirs: ranked by ID alone, a late reader
 * moved every share after its own, and the reads in flight there were ended
 * or read twice.
 */
export function downloaderOrder (readers: Iterable<Reader>): string[] {
  const byId = new Map<string, number>()
  for (const reader of readers) if (!byId.has(reader.peerId)) byId.set(reader.peerId, reader.since)
  return [...byId].sort(([a, x], [b, y]) => x - y || (a < b ? -1 : a > b ? 1 : 0)).map(([id]) => id)
}

/**
 * The readers that split a blob's Walrus reads: those whose downloads began
 * within one coordination window of the first one's. One that began later
 * reads no share: the first readers cut the whole blob among themselves
 * when their windows closed and read it, and it takes the chunks from them.
 * Cut in, a late reader moved every share after the first and ended the
 * reads in flight there, and the first readers then waited for its read
 * (in a live medium run a node alone reading a 7.4 MB model gave half of it
 * to a node that began 0.4 s later and read it 2.5 s later: 9.5 s against
 * 1.5 s for Walrus alone). Every node judges from the same announced start
 * times, but others by `othersWindowMs` (the configured window, the same on
 * every node) and itself by `ownWindowMs` (its own, which late gossip may
 * have stretched), so a node it counts in counts itself in: a disagreement
 * reads a chunk twice rather than leaving it to the stall fallback. A
 * window of 0 configured waits for no one and leaves no one out.
 */
export function sharingReaders (readers: Reader[], selfId: string, othersWindowMs: number, ownWindowMs: number): Reader[] {
  if (othersWindowMs === 0 || readers.length === 0) return readers
  const first = Math.min(...readers.map(r => r.since))
  return readers.filter(r => r.since - first <= (r.peerId === selfId ? Math.max(othersWindowMs, ownWindowMs) : othersWindowMs))
}

/** The rank of the downloader that reads chunk `index` from Walrus: each reads one contiguous segment. */
export function walrusReaderOf (index: number, chunkCount: number, downloaders: number): number {
  return Math.floor(index * downloaders / chunkCount)
}

/** The chunks [start, end) the downloader at `rank` of `downloaders` reads from Walrus. */
export function walrusShareOf (rank: number, downloaders: number, chunkCount: number): { start: number, end: number } {
  // The inverse of walrusReaderOf: the first index whose reader is `rank`.
  const first = (r: number): number => Math.ceil(r * chunkCount / downloaders)
  return { start: Math.min(first(rank), chunkCount), end: Math.min(first(rank + 1), chunkCount) }
}

/** Where the source at `position` of `sources` starts taking chunks, so several peers serve different parts of one blob. */
export function sourceStartChunk (position: number, sources: number, chunkCount: number): number {
  return Math.floor(position * chunkCount / sources)
}

/** However late gossip seems, a node waits at most this long to learn who else is reading. */
export const MAX_COORDINATION_MS = 10_000

/**
 * How long a download waits after its "fetching" announcement before its
 * first Walrus read: the configured window, or twice how late gossip arrives
 * now, so the others' announcements are in before the shares are cut (on a
 * loaded machine they came after 300 ms, and the nodes read overlapping
 * shares). Never past MAX_COORDINATION_MS; 0 configured means no wait.
 */
export function coordinationWindow (configuredMs: number, gossipDelayMs: number | undefined): number {
  if (configuredMs === 0) return 0
  return Math.max(configuredMs, Math.min(MAX_COORDINATION_MS, Math.round(2 * (gossipDelayMs ?? 0))))
}
