import { logger } from '@libp2p/logger'
import type { BlobId } from '../blob/blob-id.js'
import { UnregisteredBlobError } from '../blob/errors.js'
import { NotFoundError } from './errors.js'
import type { Ledger, ModelEntry } from './types.js'

const log = logger('herd:chain:registry')

/** A name may gain a version at any time: what it resolved to is asked again after this. */
export const NAME_TTL_MS = 5_000
/** A blob or name with no entry may be one being pushed now: the miss is remembered only this long. */
export const MISS_TTL_MS = 2_000
/** Entries and misses remembered at once; the least recently used goes first. */
export const MAX_REMEMBERED = 10_000

/** What the registry says about a blob: enough to check every chunk without trusting whoever sends it. */
export interface RegisteredBlob {
  blobId: BlobId
  size: number
  chunkSize: number
  /** 64 hex digits. */
  chunkRoot: string
  chunkHashesBlobId: BlobId
}

export interface ModelRegistryComponents {
  ledger: Pick<Ledger, 'getModel'>
}

export interface ModelRegistryInit {
  nameTtlMs?: number
  missTtlMs?: number
  maxRemembered?: number
  now?: () => number
}

type Remembered = { entry: ModelEntry, until: number } | { missing: Error, until: number }

/**
 * The ledger's model registry as the rest of the node reads it: a blob's
 * chunk description for the fetcher, a model by blob ID or name for
 * inference, with one cache in front of the ledger. An entry by blob ID is
 * immutable once written and is kept until pushed out by size; a name is
 * asked again after NAME_TTL_MS; a miss after MISS_TTL_MS.
 */
export class ModelRegistry {
  private readonly ledger: Pick<Ledger, 'getModel'>
  private readonly nameTtlMs: number
  private readonly missTtlMs: number
  private readonly maxRemembered: number
  private readonly now: () => number
  private readonly remembered = new Map<string, Remembered>()

  constructor (components: ModelRegistryComponents, init: ModelRegistryInit = {}) {
    this.ledger = components.ledger
    this.nameTtlMs = init.nameTtlMs ?? NAME_TTL_MS
    this.missTtlMs = init.missTtlMs ?? MISS_TTL_MS
    this.maxRemembered = init.maxRemembered ?? MAX_REMEMBERED
    this.now = init.now ?? Date.now
  }

  /**
   * The registry entry of a model by blob ID, `name` (latest version) or
   * `name@version`. Throws NotFoundError when there is none, InvalidModelRefError
   * for a reference of neither form, and the ledger's own errors when it cannot answer.
   */
  async model (ref: string, options: { signal?: AbortSignal } = {}): Promise<ModelEntry> {
    const known = this.recall(ref)
    if (known != null) {
      if ('missing' in known) throw known.missing
      return known.entry
    }
    let entry: ModelEntry
    try {
      entry = await this.ledger.getModel(ref, options)
    } catch (err) {
      if (err instanceof NotFoundError || (err as Error).name === 'NotFoundError') {
        const missing = new NotFoundError(`no registered model ${ref}`, { cause: err })
        this.remember(ref, { missing, until: this.now() + this.missTtlMs })
        throw missing
      }
      throw err
    }
    this.remember(ref, { entry, until: ref === entry.blobId ? Infinity : this.now() + this.nameTtlMs })
    if (ref !== entry.blobId) this.remember(entry.blobId, { entry, until: Infinity })
    return entry
  }

  /** What a blob's chunks are checked against; UnregisteredBlobError when it has no entry or no chunk hashes. */
  async describe (blobId: BlobId, options: { signal?: AbortSignal } = {}): Promise<RegisteredBlob> {
    let entry: ModelEntry
    try {
      entry = await this.model(blobId, options)
    } catch (err) {
      if ((err as Error).name === 'NotFoundError') throw new UnregisteredBlobError(`blob ${blobId} has no registry entry on the ledger`)
      throw err
    }
    if (entry.blobId !== blobId || entry.chunkHashesBlobId === '') throw new UnregisteredBlobError(`blob ${blobId} has no chunk hashes in its registry entry`)
    return { blobId, size: entry.size, chunkSize: entry.chunkSize, chunkRoot: entry.chunkRoot, chunkHashesBlobId: entry.chunkHashesBlobId }
  }

  private recall (ref: string): Remembered | undefined {
    const known = this.remembered.get(ref)
    if (known == null) return undefined
    this.remembered.delete(ref)
    if (known.until <= this.now()) return undefined
    // Re-inserted: the Map's order is the order of use, so the oldest is evicted first.
    this.remembered.set(ref, known)
    return known
  }

  private remember (ref: string, value: Remembered): void {
    this.remembered.delete(ref)
    this.remembered.set(ref, value)
    while (this.remembered.size > this.maxRemembered) {
      const oldest = this.remembered.keys().next().value as string
      this.remembered.delete(oldest)
      log.trace('forgot %s: over %d remembered', oldest, this.maxRemembered)
    }
  }
}
