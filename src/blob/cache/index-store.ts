import { Level } from 'level'
import { z } from 'zod'
import { isBlobId, type BlobId } from '../blob-id.js'
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from '../chunk-tree.js'
import { checkStoreVersion, openLevelStore } from '../level-store.js'
import { INDEX_VERSION } from './constants.js'
import { CacheStoreError, CacheVersionError } from './errors.js'

/**
 * The cache index in level. Keys:
 *   version        the layout version
 *   blob/ID        a complete blob (JSON BlobRecord)
 *   partial/ID     a download in progress (JSON PartialRecord)
 *   leaves/ID      the chunk hashes, 32 bytes each, for either (kept as is when a partial is committed)
 *   bits/ID        a partial's held chunks whose data is synced
 * A change that touches several keys is one batch, so a crash leaves the old state or the new one.
 */

const blobRecord = z.object({
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  chunkSize: z.number().int().min(MIN_CHUNK_SIZE).max(MAX_CHUNK_SIZE),
  chunkRoot: z.string().regex(/^[0-9a-f]{64}$/),
  pinned: z.boolean(),
  addedAt: z.number().nonnegative(),
  lastAccessAt: z.number().nonnegative(),
  hits: z.number().int().nonnegative(),
  /**
   * When every chunk of the file was last checked against its leaf (on
   * commit, then by the scrub). Absent in records written before it existed:
   * such a blob counts as never checked, so it is re-hashed on every read
   * until the scrub has been through it; a herd that predates the field
   * ignores it. So the index version stays 1.
   */
  verifiedAt: z.number().nonnegative().optional()
})

const partialRecord = z.object({
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  chunkSize: z.number().int().min(MIN_CHUNK_SIZE).max(MAX_CHUNK_SIZE),
  chunkRoot: z.string().regex(/^[0-9a-f]{64}$/),
  startedAt: z.number().nonnegative()
})

export type BlobRecord = z.infer<typeof blobRecord>
export type PartialRecord = z.infer<typeof partialRecord>

export interface LoadedIndex {
  blobs: Map<BlobId, { record: BlobRecord, leaves?: Uint8Array }>
  partials: Map<BlobId, { record: PartialRecord, leaves?: Uint8Array, bits?: Uint8Array }>
  /** Keys that cannot be read, or name no blob or download: repair deletes them. */
  stray: string[]
}

type Op = { type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }

const VERSION_KEY = 'version'
const encoder = new TextEncoder()
const decoder = new TextDecoder()
const json = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value))

function parseJson (bytes: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(bytes))
  } catch {
    return undefined
  }
}

export class IndexStore {
  readonly path: string
  private readonly db: Level<string, Uint8Array>

  constructor (path: string) {
    this.path = path
    this.db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
  }

  /** Opens the store and checks its version; an empty store gets the current one. */
  async open (): Promise<void> {
    await openLevelStore(this.db, 'cache index', this.path, message => new CacheStoreError(message))
    try {
      await checkStoreVersion(this.db, { what: 'cache index', path: this.path, key: VERSION_KEY, version: INDEX_VERSION }, message => new CacheVersionError(message))
    } catch (err) {
      await this.db.close()
      throw err
    }
  }

  async close (): Promise<void> {
    if (this.db.status === 'open') await this.db.close()
  }

  async load (): Promise<LoadedIndex> {
    const out: LoadedIndex = { blobs: new Map(), partials: new Map(), stray: [] }
    const leaves = new Map<string, Uint8Array>()
    const bits = new Map<string, Uint8Array>()
    for await (const [key, value] of this.db.iterator()) {
      if (key === VERSION_KEY) continue
      const slash = key.indexOf('/')
      const kind = key.slice(0, slash)
      const id = key.slice(slash + 1)
      if (slash < 0 || !isBlobId(id)) {
        out.stray.push(key)
        continue
      }
      if (kind === 'blob') {
        const parsed = blobRecord.safeParse(parseJson(value))
        if (parsed.success) out.blobs.set(id, { record: parsed.data })
        else out.stray.push(key)
      } else if (kind === 'partial') {
        const parsed = partialRecord.safeParse(parseJson(value))
        if (parsed.success) out.partials.set(id, { record: parsed.data })
        else out.stray.push(key)
      } else if (kind === 'leaves') {
        leaves.set(id, value)
      } else if (kind === 'bits') {
        bits.set(id, value)
      } else {
        out.stray.push(key)
      }
    }
    for (const [id, value] of leaves) {
      const owner = out.blobs.get(id as BlobId) ?? out.partials.get(id as BlobId)
      if (owner != null) owner.leaves = value
      else out.stray.push(`leaves/${id}`)
    }
    for (const [id, value] of bits) {
      const owner = out.partials.get(id as BlobId)
      if (owner != null) owner.bits = value
      else out.stray.push(`bits/${id}`)
    }
    return out
  }

  async deleteKeys (keys: string[]): Promise<void> {
    if (keys.length > 0) await this.batch(keys.map(key => ({ type: 'del', key })))
  }

  async putPartial (id: BlobId, record: PartialRecord, leaves: Uint8Array, bits: Uint8Array): Promise<void> {
    await this.batch([
      { type: 'put', key: `partial/${id}`, value: json(record) },
      { type: 'put', key: `leaves/${id}`, value: leaves },
      { type: 'put', key: `bits/${id}`, value: bits }
    ])
  }

  async putBits (id: BlobId, bits: Uint8Array): Promise<void> {
    await this.batch([{ type: 'put', key: `bits/${id}`, value: bits }])
  }

  /** The partial record goes and the blob record comes in one write; the leaves stay where they are. */
  async commitPartial (id: BlobId, record: BlobRecord): Promise<void> {
    await this.batch([
      { type: 'del', key: `partial/${id}` },
      { type: 'del', key: `bits/${id}` },
      { type: 'put', key: `blob/${id}`, value: json(record) }
    ])
  }

  async deletePartials (ids: BlobId[]): Promise<void> {
    await this.batch(ids.flatMap(id => [
      { type: 'del', key: `partial/${id}` },
      { type: 'del', key: `bits/${id}` },
      { type: 'del', key: `leaves/${id}` }
    ] satisfies Op[]))
  }

  async putBlobs (records: Array<[BlobId, BlobRecord]>): Promise<void> {
    await this.batch(records.map(([id, record]) => ({ type: 'put', key: `blob/${id}`, value: json(record) })))
  }

  async deleteBlobs (ids: BlobId[]): Promise<void> {
    await this.batch(ids.flatMap(id => [
      { type: 'del', key: `blob/${id}` },
      { type: 'del', key: `leaves/${id}` }
    ] satisfies Op[]))
  }

  private async batch (ops: Op[]): Promise<void> {
    if (ops.length > 0) await this.db.batch(ops)
  }
}
