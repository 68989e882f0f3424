import { open, readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { isBlobId, type BlobId } from '../blob-id.js'
import { chunkCount, chunkRange, hashLeaf, HASH_BYTES, rootOfLeaves, toHex } from '../chunk-tree.js'
import { Bitfield } from './bitfield.js'
import { isNotFound, readAt, sameBytes, unlinkIfPresent } from './file-io.js'
import type { BlobRecord, IndexStore, LoadedIndex, PartialRecord } from './index-store.js'

const log = logger('herd:blob:cache:repair')

export interface RepairedIndex {
  blobs: Array<{ blobId: BlobId, record: BlobRecord, leaves: Uint8Array }>
  partials: Array<{ blobId: BlobId, record: PartialRecord, leaves: Uint8Array, bits: Bitfield }>
  /** Files removed, records dropped and chunk bits cleared. */
  repaired: number
}

/** Leaves that are whole hashes, one per chunk, with the recorded root. */
function leavesFit (leaves: Uint8Array | undefined, record: { size: number, chunkSize: number, chunkRoot: string }): leaves is Uint8Array {
  if (leaves == null || leaves.length !== chunkCount(record.size, record.chunkSize) * HASH_BYTES) return false
  return toHex(rootOfLeaves(splitLeaves(leaves))) === record.chunkRoot
}

export function splitLeaves (flat: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let at = 0; at < flat.length; at += HASH_BYTES) out.push(flat.subarray(at, at + HASH_BYTES))
  return out
}

async function fileSize (path: string): Promise<number | undefined> {
  try {
    const info = await stat(path)
    return info.isFile() ? info.size : -1
  } catch (err) {
    if (isNotFound(err)) return undefined
    throw err
  }
}

/**
 * Makes the index and the files agree after whatever happened last (a crash,
 * a full disk, a hand-edited directory), before anything is served: data
 * without a record goes, a record without its data goes, and a download's held
 * chunks are re-hashed so a chunk written but not synced is fetched again.
 * Complete blobs are not re-hashed here (that is done on every read).
 */
export async function repairCache (store: IndexStore, loaded: LoadedIndex, blobsDir: string, partialDir: string): Promise<RepairedIndex> {
  const out: RepairedIndex = { blobs: [], partials: [], repaired: 0 }
  const problem = (format: string, ...args: unknown[]): void => {
    out.repaired++
    log(`repair: ${format}`, ...args)
  }

  if (loaded.stray.length > 0) {
    await store.deleteKeys(loaded.stray)
    for (const key of loaded.stray) problem('removed stray index key %s', key)
  }

  const droppedBlobs: BlobId[] = []
  for (const [blobId, { record, leaves }] of loaded.blobs) {
    const path = join(blobsDir, blobId)
    const size = await fileSize(path)
    if (!leavesFit(leaves, record) || size !== record.size) {
      problem('dropped blob %s (file %s, record %d bytes, leaves %s)', blobId, size == null ? 'missing' : `${size} bytes`, record.size, leaves == null ? 'missing' : 'present')
      droppedBlobs.push(blobId)
      if (size != null) await rm(path, { recursive: true, force: true })
      continue
    }
    out.blobs.push({ blobId, record, leaves })
  }
  if (droppedBlobs.length > 0) await store.deleteBlobs(droppedBlobs)

  const droppedPartials: BlobId[] = []
  for (const [blobId, { record, leaves, bits }] of loaded.partials) {
    const path = join(partialDir, blobId)
    if (loaded.blobs.has(blobId)) {
      // Both records cannot come from one batch; the blob record (or its repair) wins.
      problem('dropped the download record of complete blob %s', blobId)
      await store.deleteKeys([`partial/${blobId}`, `bits/${blobId}`])
      await unlinkIfPresent(path)
      continue
    }
    const size = await fileSize(path)
    if (!leavesFit(leaves, record) || size == null || size < 0) {
      problem('dropped download %s (file %s, leaves %s)', blobId, size == null ? 'missing' : 'unusable', leaves == null ? 'missing' : 'present')
      droppedPartials.push(blobId)
      if (size != null) await rm(path, { recursive: true, force: true })
      continue
    }
    const count = chunkCount(record.size, record.chunkSize)
    let held: Bitfield
    try {
      held = new Bitfield(count, bits)
    } catch {
      problem('reset the unreadable bitfield of download %s', blobId)
      held = new Bitfield(count)
    }
    const cleared = await rehashHeld(path, record, splitLeaves(leaves), held)
    for (const index of cleared) problem('chunk %d of download %s does not match its hash: will be fetched again', index, blobId)
    if (size !== record.size) {
      problem('download %s file is %d bytes, expected %d', blobId, size, record.size)
      const file = await open(path, 'r+')
      try {
        await file.truncate(record.size)
      } finally {
        await file.close()
      }
    }
    if (cleared.length > 0 || bits == null || bits.length !== held.toBytes().length) await store.putBits(blobId, held.toBytes())
    out.partials.push({ blobId, record, leaves, bits: held })
  }
  if (droppedPartials.length > 0) await store.deletePartials(droppedPartials)

  const known = {
    blobs: new Set<string>(out.blobs.map(b => b.blobId)),
    partial: new Set<string>(out.partials.map(p => p.blobId))
  }
  for (const [dir, keep] of [[blobsDir, known.blobs], [partialDir, known.partial]] as const) {
    for (const name of await readdir(dir)) {
      if (isBlobId(name) && keep.has(name)) continue
      problem('removed %s %s', name.endsWith('.tmp') ? 'temp file' : 'file without a record', join(dir, name))
      await rm(join(dir, name), { recursive: true, force: true })
    }
  }
  return out
}

/** Clears the bits of held chunks whose bytes on disk do not hash to their leaf; returns their indexes. */
async function rehashHeld (path: string, record: PartialRecord, leaves: Uint8Array[], held: Bitfield): Promise<number[]> {
  if (held.count() === 0) return []
  const cleared: number[] = []
  const file = await open(path, 'r')
  try {
    for (let index = 0; index < held.length; index++) {
      if (!held.has(index)) continue
      const { start, end } = chunkRange(index, record.size, record.chunkSize)
      const bytes = await readAt(file, start, end - start)
      if (bytes.length !== end - start || !sameBytes(hashLeaf(bytes), leaves[index] as Uint8Array)) {
        held.clear(index)
        cleared.push(index)
      }
    }
  } finally {
    await file.close()
  }
  return cleared
}
