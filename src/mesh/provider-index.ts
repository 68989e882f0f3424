import type { BlobId } from '../blob/blob-id.js'
import type { BlobDigest } from './blob-digest.js'
import { MAX_DIGESTS, MAX_PROVIDER_RECORDS, MAX_PROVIDER_RECORDS_PER_PEER, PROVIDER_TTL_MS } from './constants.js'
import { orderProviders } from './provider-selection.js'

export type ProviderState = 'holder' | 'fetching'

export interface Provider {
  peerId: string
  state: ProviderState
  /** A peer fetching: when its download began, at the peer (as it announced it, or when first heard of if it did not say). */
  since?: number
}

export interface PeerLoad {
  downloads: number
  uploads: number
  inferQueue: number
  sessionsWarm: number
  /** Models with a loaded session there. */
  warm: BlobId[]
}

interface Held {
  state: ProviderState
  expiresAt: number
  since?: number
  /** A peer fetching that announced it stopped: listed nowhere, remembered so downloads drop it as a reader at once. */
  stopped?: true
}

interface Digest {
  filter: BlobDigest
  count: number
  expiresAt: number
}

export interface ProviderIndexInit {
  ttlMs?: number
  now?: () => number
  /** Records kept per peer; MAX_PROVIDER_RECORDS_PER_PEER unless given. */
  maxRecordsPerPeer?: number
  /** Records kept in all; MAX_PROVIDER_RECORDS unless given. */
  maxRecords?: number
  /** Digests kept; MAX_DIGESTS unless given. */
  maxDigests?: number
}

/**
 * Who holds or is fetching which blob, as gossip tells it. Entries expire
 * unless refreshed, so a node that left quietly stops being asked.
 * A digest (a Bloom filter of a peer's whole cache) answers for blobs the
 * peer announced before we joined; a false positive costs one NOT_FOUND.
 * Records and digests are bounded per peer and in all: past a bound, a new
 * one is refused (and counted) until expiry or a drop makes room, so a flood
 * cannot push out what is already known.
 */
export class ProviderIndex {
  private readonly ttlMs: number
  private readonly now: () => number
  private readonly maxRecordsPerPeer: number
  private readonly maxRecords: number
  private readonly maxDigests: number
  /** Records per peer, and in all, expired ones included until pruned. */
  private readonly recordsOf = new Map<string, number>()
  private records = 0
  /** Records and digests refused at a bound. */
  private refused = 0
  private readonly byBlob = new Map<string, Map<string, Held>>()
  private readonly digests = new Map<string, Digest>()
  private readonly loads = new Map<string, { load: PeerLoad, expiresAt: number }>()

  constructor (init: ProviderIndexInit = {}) {
    this.ttlMs = init.ttlMs ?? PROVIDER_TTL_MS
    this.now = init.now ?? Date.now
    this.maxRecordsPerPeer = init.maxRecordsPerPeer ?? MAX_PROVIDER_RECORDS_PER_PEER
    this.maxRecords = init.maxRecords ?? MAX_PROVIDER_RECORDS
    this.maxDigests = init.maxDigests ?? MAX_DIGESTS
  }

  /**
   * Records or refreshes that `peerId` holds or fetches `blobId`, fetching
   * since `since` (when not given: since it was first heard fetching it); false
   * when refused at a bound.
   */
  set (peerId: string, blobId: string, state: ProviderState, since?: number): boolean {
    let peers = this.byBlob.get(blobId)
    if (peers?.has(peerId) !== true) {
      const count = this.recordsOf.get(peerId) ?? 0
      if (count >= this.maxRecordsPerPeer || this.records >= this.maxRecords) {
        this.refused++
        return false
      }
      this.recordsOf.set(peerId, count + 1)
      this.records++
    }
    if (peers == null) {
      peers = new Map()
      this.byBlob.set(blobId, peers)
    }
    const now = this.now()
    const before = peers.get(peerId)
    const fetchingSince = state !== 'fetching' ? undefined : since ?? (before?.state === 'fetching' ? before.since : undefined) ?? now
    peers.set(peerId, { state, expiresAt: now + this.ttlMs, ...(fetchingSince != null ? { since: fetchingSince } : {}) })
    return true
  }

  /**
   * `peerId` announced it no longer holds or fetches `blobId`. A download it
   * had announced is remembered as stopped until its record would have
   * expired, in the record's slot: readers a download keeps through a
   * moment unlisted (a connection made again) are dropped at once when they
   * said so themselves (stoppedReaders).
   */
  stopped (peerId: string, blobId: string): void {
    const held = this.byBlob.get(blobId)?.get(peerId)
    if (held?.state !== 'fetching') {
      this.drop(peerId, blobId)
      return
    }
    held.stopped = true
    held.expiresAt = this.now() + this.ttlMs
  }

  /** The peers that announced they stopped fetching `blobId` (stopped). */
  stoppedReaders (blobId: string): string[] {
    const now = this.now()
    return [...this.byBlob.get(blobId) ?? []].filter(([, held]) => held.stopped === true && held.expiresAt > now).map(([peerId]) => peerId)
  }

  drop (peerId: string, blobId: string): void {
    const peers = this.byBlob.get(blobId)
    if (peers == null) return
    if (peers.delete(peerId)) this.forgotten(peerId)
    if (peers.size === 0) this.byBlob.delete(blobId)
  }

  private forgotten (peerId: string): void {
    this.records--
    const count = (this.recordsOf.get(peerId) ?? 1) - 1
    if (count > 0) this.recordsOf.set(peerId, count)
    else this.recordsOf.delete(peerId)
  }

  /** Records or refreshes `peerId`'s digest; false when refused at the bound on digests. */
  setDigest (peerId: string, filter: BlobDigest, count: number): boolean {
    if (!this.digests.has(peerId) && this.digests.size >= this.maxDigests) {
      this.refused++
      return false
    }
    this.digests.set(peerId, { filter, count, expiresAt: this.now() + this.ttlMs })
    return true
  }

  setLoad (peerId: string, load: PeerLoad): void {
    this.loads.set(peerId, { load, expiresAt: this.now() + this.ttlMs })
  }

  load (peerId: string): PeerLoad | undefined {
    const entry = this.loads.get(peerId)
    return entry != null && entry.expiresAt > this.now() ? entry.load : undefined
  }

  /** Holders first, then peers still fetching; the local node is never listed. */
  providers (blobId: string): Provider[] {
    const now = this.now()
    const found = new Map<string, Provider>()
    for (const [peerId, held] of this.byBlob.get(blobId) ?? []) {
      if (held.expiresAt > now && held.stopped !== true) found.set(peerId, { peerId, state: held.state, ...(held.since != null ? { since: held.since } : {}) })
    }
    for (const [peerId, digest] of this.digests) {
      if (digest.expiresAt > now && !found.has(peerId) && digest.filter.has(blobId)) found.set(peerId, { peerId, state: 'holder' })
    }
    return orderProviders([...found.values()])
  }

  forgetPeer (peerId: string): void {
    for (const blobId of [...this.byBlob.keys()]) this.drop(peerId, blobId)
    this.digests.delete(peerId)
    this.loads.delete(peerId)
  }

  /** Drops expired entries; called on a timer so the maps do not grow with departed peers. */
  prune (): void {
    const now = this.now()
    for (const [blobId, peers] of this.byBlob) {
      for (const [peerId, held] of peers) {
        if (held.expiresAt > now) continue
        peers.delete(peerId)
        this.forgotten(peerId)
      }
      if (peers.size === 0) this.byBlob.delete(blobId)
    }
    for (const [peerId, digest] of this.digests) if (digest.expiresAt <= now) this.digests.delete(peerId)
    for (const [peerId, load] of this.loads) if (load.expiresAt <= now) this.loads.delete(peerId)
  }

  stats (): { blobs: number, records: number, digests: number, refused: number } {
    return { blobs: this.byBlob.size, records: this.records, digests: this.digests.size, refused: this.refused }
  }
}
