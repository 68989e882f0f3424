import { Level } from 'level'
import { z } from 'zod'
import { isBlobId, type BlobId } from '../blob/blob-id.js'
import { checkStoreVersion, openLevelStore } from '../blob/level-store.js'
import { StorageTrackerError, StorageTrackerVersionError } from './errors.js'

const VERSION_KEY = 'version'
const TRACKER_VERSION = 1
const BLOB_PREFIX = 'blob/'
const SPEND_PREFIX = 'spend/'

export const BLOB_KINDS = ['model', 'chunk-hashes', 'pin', 'bundle'] as const
export type BlobKind = typeof BLOB_KINDS[number]

const trackedSchema = z.strictObject({
  blobId: z.string().refine(isBlobId),
  /** Why the node keeps it: a blob can be a pushed model and pinned at once; renewal stops when none is left. */
  kinds: z.array(z.enum(BLOB_KINDS)).max(BLOB_KINDS.length),
  /** What it held, for the log line when it is lost: a model's name, a bundle's root. */
  holds: z.string().max(300),
  size: z.number().int().nonnegative().optional(),
  objectId: z.string().max(100).optional(),
  /** Exclusive, as Walrus counts it; absent until Walrus was asked. */
  endEpoch: z.number().int().nonnegative().optional(),
  owner: z.string().max(100).optional(),
  shared: z.boolean(),
  /** active: renewed when due; stopped: no reason left to keep it; expired: its end epoch passed. */
  state: z.enum(['active', 'stopped', 'expired']),
  trackedAt: z.number(),
  /** A bundle is not renewed past this time (ms). */
  retainUntil: z.number().optional(),
  /** An extension decided and maybe sent, not yet known to have gone through: retried with the same end epochs after a crash. */
  intent: z.strictObject({ from: z.number().int(), to: z.number().int(), at: z.number() }).optional(),
  /** Pinned as the chunk hashes of this pinned blob: unpinning that blob unpins this one. */
  pinOf: z.string().refine(isBlobId).optional(),
  renewals: z.number().int().nonnegative(),
  lastError: z.string().max(500).optional()
})

export type TrackedBlob = z.infer<typeof trackedSchema> & { blobId: BlobId }

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * The blobs the node is responsible for keeping on Walrus, in level beside
 * the cache index, each record written whole: the keeper writes an
 * extension's intent before sending it and its result after, so a crash
 * between the two is seen on restart.
 */
export class StorageTracker {
  readonly path: string
  private readonly db: Level<string, Uint8Array>
  private readonly blobs = new Map<string, TrackedBlob>()
  private readonly spend = new Map<number, number>()

  constructor (path: string) {
    this.path = path
    this.db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
  }

  async open (): Promise<void> {
    await openLevelStore(this.db, 'storage tracker', this.path, message => new StorageTrackerError(message))
    try {
      await checkStoreVersion(this.db, { what: 'storage tracker', path: this.path, key: VERSION_KEY, version: TRACKER_VERSION }, message => new StorageTrackerVersionError(message))
      for await (const [key, value] of this.db.iterator()) {
        if (key.startsWith(BLOB_PREFIX)) {
          const parsed = safeJson(value, trackedSchema)
          if (parsed == null || parsed.blobId !== key.slice(BLOB_PREFIX.length)) throw new StorageTrackerError(`${this.path}: record ${key.slice(0, 80)} is not a tracked blob`)
          this.blobs.set(parsed.blobId, parsed as TrackedBlob)
        } else if (key.startsWith(SPEND_PREFIX)) {
          this.spend.set(Number(key.slice(SPEND_PREFIX.length)), Number(decoder.decode(value)))
        }
      }
    } catch (err) {
      await this.db.close()
      throw err
    }
  }

  async close (): Promise<void> {
    if (this.db.status === 'open') await this.db.close()
  }

  get (blobId: string): TrackedBlob | undefined {
    return this.blobs.get(blobId)
  }

  all (): TrackedBlob[] {
    return [...this.blobs.values()]
  }

  async put (blob: TrackedBlob): Promise<void> {
    await this.db.put(BLOB_PREFIX + blob.blobId, encoder.encode(JSON.stringify(blob)))
    this.blobs.set(blob.blobId, blob)
  }

  /** FROST spent on extensions during `epoch`. */
  spent (epoch: number): number {
    return this.spend.get(epoch) ?? 0
  }

  /** Records an extension's cost together with its result, in one batch. */
  async paid (blob: TrackedBlob, epoch: number, cost: number): Promise<void> {
    const total = this.spent(epoch) + cost
    await this.db.batch()
      .put(BLOB_PREFIX + blob.blobId, encoder.encode(JSON.stringify(blob)))
      .put(SPEND_PREFIX + String(epoch), encoder.encode(String(total)))
      .write()
    this.blobs.set(blob.blobId, blob)
    this.spend.set(epoch, total)
    // Older epochs' spending is no longer checked against anything.
    for (const old of this.spend.keys()) if (old < epoch - 1) { this.spend.delete(old); await this.db.del(SPEND_PREFIX + String(old)) }
  }
}

function safeJson<T> (bytes: Uint8Array, schema: z.ZodType<T>): T | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(decoder.decode(bytes)))
    return parsed.success ? parsed.data : undefined
  } catch {
    return undefined
  }
}
