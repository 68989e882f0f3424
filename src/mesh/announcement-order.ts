import { MAX_PROVIDER_RECORDS, MAX_PROVIDER_RECORDS_PER_PEER } from './constants.js'

/**
 * Which parts of a peer's announcement are newer than what was applied.
 * Announcements are deltas, so each blob's state, the load and the digest are
 * ordered apart: an announcement that arrives late (gossip may deliver out of
 * order) still adds what no newer one has changed, and never undoes what a
 * newer one did.
 */
export class AnnouncementOrder {
  private readonly blobs = new Map<string, Map<string, { seq: bigint, at: number }>>()
  /** Per-blob order entries in all. */
  private entries = 0
  private readonly maxPerPeer: number
  private readonly maxEntries: number
  private readonly loads = new Map<string, bigint>()
  private readonly digests = new Map<string, bigint>()
  private readonly addressLists = new Map<string, bigint>()
  private readonly windowMs: number
  private readonly now: () => number

  /**
   * Per-blob order is kept for `windowMs`: gossip delivers a message late by
   * seconds, not minutes. Within it, for at most `maxPerPeer` blobs of one
   * peer and `maxEntries` in all (the provider index's bounds): a change to a
   * blob past them is not applied.
   */
  constructor (init: { windowMs: number, now?: () => number, maxPerPeer?: number, maxEntries?: number }) {
    this.windowMs = init.windowMs
    this.now = init.now ?? Date.now
    this.maxPerPeer = init.maxPerPeer ?? MAX_PROVIDER_RECORDS_PER_PEER
    this.maxEntries = init.maxEntries ?? MAX_PROVIDER_RECORDS
  }

  /**
   * Whether a change to `blobId` in announcement `seq` from `peer` should be
   * applied; recorded when it should. The same `seq` passes again, so the
   * changes of one announcement apply in their order (fetching, then added).
   */
  blob (peer: string, blobId: string, seq: bigint): boolean {
    let applied = this.blobs.get(peer)
    if (applied == null) {
      applied = new Map()
      this.blobs.set(peer, applied)
    }
    const last = applied.get(blobId)
    if (last != null && seq < last.seq) return false
    if (last == null) {
      if (applied.size >= this.maxPerPeer || this.entries >= this.maxEntries) {
        if (applied.size === 0) this.blobs.delete(peer)
        return false
      }
      this.entries++
    }
    applied.set(blobId, { seq, at: this.now() })
    return true
  }

  load (peer: string, seq: bigint): boolean {
    return newer(this.loads, peer, seq)
  }

  digest (peer: string, seq: bigint): boolean {
    return newer(this.digests, peer, seq)
  }

  addresses (peer: string, seq: bigint): boolean {
    return newer(this.addressLists, peer, seq)
  }

  forget (peer: string): void {
    this.entries -= this.blobs.get(peer)?.size ?? 0
    this.blobs.delete(peer)
    this.loads.delete(peer)
    this.digests.delete(peer)
    this.addressLists.delete(peer)
  }

  /** Drops per-blob order older than the window, so the maps do not grow with every blob ever announced. */
  prune (): void {
    const before = this.now() - this.windowMs
    for (const [peer, applied] of this.blobs) {
      for (const [blobId, { at }] of applied) {
        if (at >= before) continue
        applied.delete(blobId)
        this.entries--
      }
      if (applied.size === 0) this.blobs.delete(peer)
    }
  }
}

function newer (latest: Map<string, bigint>, peer: string, seq: bigint): boolean {
  const last = latest.get(peer)
  if (last != null && seq <= last) return false
  latest.set(peer, seq)
  return true
}
