/**
 * The hedge: a download from peers is held to the time Walrus alone would
 * have taken for the same request (issue 19: never slower than Walrus alone).
 * Pure code, so the scale model (sim/scale.ts) applies the same rule.
 */

/** The margin over Walrus alone a download may take before it hedges: this share of Walrus alone's time, or its latency if larger. */
export const HEDGE_MARGIN_SHARE = 0.1

export interface HedgeJudgement {
  /** When the request came (the download's announcement): Walrus alone would have started then. */
  startedAt: number
  now: number
  /** The blob's bytes, and those not yet held. */
  size: number
  remaining: number
  /** The blob's chunks: Walrus alone reads their hashes first, unless there is one (its hash is the registered root). */
  chunks: number
  /** Since when peers have been asked for chunks without a break; undefined: none is asked now. */
  demandSince: number | undefined
  /** Bytes from peers over the last `windowMs`. */
  recentPeerBytes: number
  windowMs: number
  /** Walrus's latency here (OriginTiming.latencyMs): a request alone reads the chunk hashes first. */
  latencyMs: number
  /** How long reading `bytes` straight from Walrus takes here (OriginTiming.directMs); undefined until timed. */
  directMs: (bytes: number) => number | undefined
  /** How long a peer's first bytes take to come here (PeerRoundTrip.ms); undefined until timed. */
  peerRoundTripMs?: number
}

/**
 * What a request may take beyond Walrus alone (`aloneMs`): HEDGE_MARGIN_SHARE
 * of it, or one latency if that is larger, and never less than one peer
 * round trip: against a Walrus on loopback the rest was read from Walrus
 * before a holder's first bytes could have arrived. It also bounds the
 * coordination window of a cold download, which delays its first Walrus
 * read: under load gossip arrives seconds late, and a window stretched to
 * twice that (up to 10 s) made cold requests wait seconds a read alone would
 * not.
 */
export function hedgeMarginMs (aloneMs: number, latencyMs: number, peerRoundTripMs = 0): number {
  return Math.max(aloneMs * HEDGE_MARGIN_SHARE, latencyMs, peerRoundTripMs)
}

/**
 * How long Walrus alone takes for a request of `size` bytes in `chunks`
 * chunks here: its chunk hashes (one latency: the mesh usually has them from
 * a peer; none for one chunk, whose hash is the root), then the blob's
 * reads. Undefined until a read was timed.
 */
export function walrusAloneMs (size: number, chunks: number, latencyMs: number, directMs: (bytes: number) => number | undefined): number | undefined {
  const direct = directMs(size)
  return direct == null ? undefined : (chunks > 1 ? latencyMs : 0) + direct
}

/** When Walrus alone would have delivered the blob, margin included. */
export function walrusDeadline (j: Pick<HedgeJudgement, 'startedAt' | 'size' | 'chunks' | 'latencyMs' | 'directMs' | 'peerRoundTripMs'>): number | undefined {
  const alone = walrusAloneMs(j.size, j.chunks, j.latencyMs, j.directMs)
  return alone == null ? undefined : j.startedAt + alone + hedgeMarginMs(alone, j.latencyMs, j.peerRoundTripMs)
}

/** Bytes a second the download gained over the recent window (0 before any). */
function recentPace (j: HedgeJudgement): number {
  const observedMs = Math.min(j.windowMs, j.now - (j.demandSince ?? j.now))
  return observedMs > 0 ? j.recentPeerBytes / observedMs : 0
}

/**
 * Whether the rest of the blob should be read from Walrus now, racing the
 * peers (the first copy of a chunk to land is written). Only when both hold:
 * at the peers' pace over the recent window (none yet: never) the download
 * ends after Walrus alone's deadline; and it is the last moment a read of
 * the rest still ends by that deadline. Waiting until then lets a slow start
 * catch up (on a loaded machine a holder's first bytes can take a few hundred
 * ms) without reading twice what peers bring in time; a holder that keeps a
 * pace that ends in time is never hedged, however slow it is. Judged only
 * while peers are asked: with none asked, Walrus is read anyway.
 */
export function hedgeDue (j: HedgeJudgement): boolean {
  if (j.demandSince == null || j.remaining <= 0) return false
  const deadline = walrusDeadline(j)
  const rest = j.directMs(j.remaining)
  if (deadline == null || rest == null) return false
  if (j.now + rest < deadline) return false
  const pace = recentPace(j)
  const peersEnd = pace > 0 ? j.now + j.remaining / pace : Infinity
  return peersEnd > deadline && peersEnd > j.now + rest
}
