import { randomBytes } from 'node:crypto'
import { createReadStream, type ReadStream } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { z } from 'zod'
import { writeFileAtomic } from '../../blob/atomic-file.js'
import { isBlobId, type BlobId } from '../../blob/blob-id.js'

const log = logger('herd:walrus:local:disk-store')

const STORE_VERSION = 1

const blobRecordSchema = z.object({
  blobId: z.string().refine(isBlobId),
  size: z.number().int().nonnegative(),
  rootHash: z.string().regex(/^[0-9a-f]{64}$/),
  objectId: z.string().regex(/^0x[0-9a-f]{64}$/),
  registeredEpoch: z.number().int().nonnegative(),
  endEpoch: z.number().int().nonnegative(),
  permanent: z.boolean(),
  storedAt: z.number(),
  /** The address the Blob object was sent to (`send_object_to`): only it may extend the blob. Absent: the publisher kept it. */
  owner: z.string().regex(/^0x[0-9a-f]{64}$/).optional(),
  /** Stored with `share=true`, as a SharedBlob anyone may fund and extend. */
  shared: z.boolean().default(false),
  /** Past its end epoch and its bytes reclaimed: the record stays, as the Blob object stays on Sui, so a reader can learn when it ended. */
  expired: z.boolean().default(false)
})

export type BlobRecord = z.infer<typeof blobRecordSchema> & { blobId: BlobId }

const storeInfoSchema = z.object({ version: z.number().int(), nShards: z.number().int().positive(), genesisMs: z.number() })
export type StoreInfo = z.infer<typeof storeInfoSchema>

/** The local Walrus found a data dir it cannot use as it is asked to. */
export class LocalStoreMismatchError extends Error {
  override name = 'LocalStoreMismatchError'
}

/**
 * Blobs of the local Walrus on disk: `blobs/ID` holds the bytes and `blobs/ID.json`
 * its record. A blob exists once its record does, and the record is written last,
 * so a crash at any point leaves no half blob visible.
 */
export class DiskBlobStore {
  readonly dir: string
  private readonly blobsDir: string
  private readonly tempDir: string
  private readonly records = new Map<string, BlobRecord>()
  private readonly locks = new Map<string, Promise<unknown>>()
  /** Live blob IDs by end epoch, so the sweep finds what is due without reading every record. */
  private readonly byEndEpoch = new Map<number, Set<string>>()
  private storedBytes = 0
  private liveBlobs = 0

  constructor (dir: string) {
    this.dir = dir
    this.blobsDir = join(dir, 'blobs')
    this.tempDir = join(dir, 'tmp')
  }

  /** Opens the dir, checking it was made for the same shard count, and drops what a crash left half-written. */
  async open (nShards: number): Promise<StoreInfo> {
    await mkdir(this.blobsDir, { recursive: true })
    await rm(this.tempDir, { recursive: true, force: true })
    await mkdir(this.tempDir, { recursive: true })
    const info = await this.readInfo(nShards)
    const names = new Set(await readdir(this.blobsDir))
    for (const name of names) {
      if (name.endsWith('.tmp')) {
        await unlink(join(this.blobsDir, name)).catch(() => {})
        continue
      }
      if (!name.endsWith('.json')) {
        if (!names.has(`${name}.json`)) {
          log('dropping orphaned blob data %s', name)
          await unlink(join(this.blobsDir, name)).catch(() => {})
        }
        continue
      }
      const blobId = name.slice(0, -5)
      const record = await this.readRecord(blobId)
      if (record?.expired === true) {
        // The sweep may have stopped between writing the tombstone and unlinking the bytes.
        if (names.has(blobId)) await unlink(join(this.blobsDir, blobId)).catch(() => {})
        this.setRecord(record)
        continue
      }
      const size = names.has(blobId) ? (await stat(join(this.blobsDir, blobId))).size : -1
      if (record == null || record.size !== size) {
        log('dropping blob %s: record unreadable or data missing or of the wrong size', blobId)
        await unlink(join(this.blobsDir, name)).catch(() => {})
        await unlink(join(this.blobsDir, blobId)).catch(() => {})
        continue
      }
      this.setRecord(record)
    }
    return info
  }

  get (blobId: string): BlobRecord | undefined {
    return this.records.get(blobId)
  }

  /** Blobs whose bytes are held (expired ones are not counted). */
  get stats (): { blobs: number, bytes: number } {
    return { blobs: this.liveBlobs, bytes: this.storedBytes }
  }

  /** At most `limit` live blobs whose end epoch is `epoch` or earlier. */
  dueBy (epoch: number, limit: number): string[] {
    const due: string[] = []
    for (const [endEpoch, ids] of this.byEndEpoch) {
      if (endEpoch > epoch) continue
      for (const id of ids) {
        due.push(id)
        if (due.length >= limit) return due
      }
    }
    return due
  }

  /** A fresh path inside the store's temp dir, on the same file system as the blobs. */
  tempPath (): string {
    return join(this.tempDir, `upload-${randomBytes(8).toString('hex')}`)
  }

  /** Runs `fn` with no other call for the same blob ID in progress. */
  async withLock<T> (blobId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(blobId) ?? Promise.resolve()
    const run = previous.then(fn, fn)
    const tail = run.catch(() => {})
    this.locks.set(blobId, tail)
    try {
      return await run
    } finally {
      if (this.locks.get(blobId) === tail) this.locks.delete(blobId)
    }
  }

  /** Moves a fully written and synced temp file into place, then writes its record. Call under the blob's lock. */
  async commit (tempFile: string, record: BlobRecord): Promise<void> {
    await rename(tempFile, join(this.blobsDir, record.blobId))
    await writeFileAtomic(join(this.blobsDir, `${record.blobId}.json`), JSON.stringify(record))
    this.setRecord(record)
  }

  /** Rewrites the record of a blob already held. Call under the blob's lock. */
  async updateRecord (record: BlobRecord): Promise<void> {
    await writeFileAtomic(join(this.blobsDir, `${record.blobId}.json`), JSON.stringify(record))
    this.setRecord(record)
  }

  /**
   * Reclaims an expired blob's bytes, keeping its record as a tombstone. The
   * tombstone is written first: a crash between the two leaves bytes that
   * `open` removes, never a live record without its bytes. Call under the blob's lock.
   */
  async expire (blobId: string): Promise<BlobRecord | undefined> {
    const record = this.records.get(blobId)
    if (record == null || record.expired) return undefined
    const tombstone: BlobRecord = { ...record, expired: true }
    await writeFileAtomic(join(this.blobsDir, `${blobId}.json`), JSON.stringify(tombstone))
    this.setRecord(tombstone)
    await unlink(join(this.blobsDir, blobId)).catch(() => {})
    return tombstone
  }

  private setRecord (record: BlobRecord): void {
    const previous = this.records.get(record.blobId)
    if (previous != null && !previous.expired) {
      this.storedBytes -= previous.size
      this.liveBlobs--
      const bucket = this.byEndEpoch.get(previous.endEpoch)
      bucket?.delete(previous.blobId)
      if (bucket?.size === 0) this.byEndEpoch.delete(previous.endEpoch)
    }
    this.records.set(record.blobId, record)
    if (record.expired) return
    this.storedBytes += record.size
    this.liveBlobs++
    let bucket = this.byEndEpoch.get(record.endEpoch)
    if (bucket == null) this.byEndEpoch.set(record.endEpoch, bucket = new Set())
    bucket.add(record.blobId)
  }

  /** A read stream of `[start, end]` inclusive. */
  read (blobId: string, start: number, end: number): ReadStream {
    return createReadStream(join(this.blobsDir, blobId), { start, end, highWaterMark: 256 * 1024 })
  }

  private async readRecord (blobId: string): Promise<BlobRecord | undefined> {
    try {
      const parsed = blobRecordSchema.safeParse(JSON.parse(await readFile(join(this.blobsDir, `${blobId}.json`), 'utf8')))
      if (parsed.success && parsed.data.blobId === blobId) return parsed.data as BlobRecord
    } catch {}
    return undefined
  }

  private async readInfo (nShards: number): Promise<StoreInfo> {
    const path = join(this.dir, 'walrus.json')
    let text: string | undefined
    try {
      text = await readFile(path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    if (text == null) {
      const info: StoreInfo = { version: STORE_VERSION, nShards, genesisMs: Date.now() }
      await writeFileAtomic(path, JSON.stringify(info))
      return info
    }
    let parsed
    try {
      parsed = storeInfoSchema.safeParse(JSON.parse(text))
    } catch {}
    if (parsed?.success !== true) throw new LocalStoreMismatchError(`${path} is not a local Walrus store description`)
    const info = parsed.data
    if (info.version !== STORE_VERSION) throw new LocalStoreMismatchError(`${path} has store version ${info.version}, this herd reads version ${STORE_VERSION}`)
    if (info.nShards !== nShards) {
      throw new LocalStoreMismatchError(`${this.dir} holds blobs encoded for ${info.nShards} shards, not ${nShards}: their IDs would differ`)
    }
    return info
  }
}
