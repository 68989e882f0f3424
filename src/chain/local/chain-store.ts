import { logger } from '@libp2p/logger'
import { Level } from 'level'
import { isBlobId } from '../../blob/blob-id.js'
import { openLevelStore } from '../../blob/level-store.js'
import { decodeBlock, encodeBlock, GENESIS_PREV_HASH, sha256, txIdOf } from '../codec.js'
import { DuplicateAnchorError, DuplicateModelError, InvalidTransactionError, LedgerCorruptError, LedgerStoreError, NotFoundError } from '../errors.js'
import { verifyTx } from '../signing.js'
import type { AnchorEntry, ModelEntry } from '../types.js'
import { parseModelRef } from '../validation.js'
import { describeEntry, entryOf, entryOfBlock, type BlockEntry } from './block-entry.js'
import { addressAnchorsRange, anchorKey, anchorTxKey, entryMakesKey, indexKeysOf, modelBlobKey, modelKey, modelVersionsRange, parsePointer, pointerValue } from './indexes.js'

const log = logger('herd:chain:local:chain-store')

/** 2: a model registration carries `chunkHashesBlobId`. 3: index entries are block heights, not copies of entries. */
export const STORE_VERSION = '3'
export const MAX_BLOCKS_PER_PAGE = 1000
export const MAX_INDEX_ENTRIES_PER_PAGE = 1000
/** Verified entries kept in memory: blocks never change, so an entry checked once is not checked again. */
const MAX_VERIFIED = 10_000
const MAX_POINTER_BYTES = 16
/** Version 2 kept a copy of each entry in its indexes and a `model-latest/` index; version 3 rebuilds them from the blocks. */
const V2_INDEX_PREFIXES = ['model/', 'model-latest/', 'model-blob/', 'anchor/', 'anchor-tx/', 'addr-anchor/']

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const json = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value))
const unjson = <T>(bytes: Uint8Array): T => JSON.parse(decoder.decode(bytes)) as T
export const heightKey = (height: number): string => `block/${String(height).padStart(12, '0')}`

export interface ChainHead {
  height: number
  hash: string
}

/** An entry as its block made it, and that block's bytes, which let a client check the signature itself. */
export interface StoredEntry<T> {
  entry: T
  block: Uint8Array
}

export interface IndexEntry {
  key: string
  value: string
}

type Verified = StoredEntry<ModelEntry | AnchorEntry> & { made: BlockEntry }

export interface AppendResult {
  txId: string
  height: number
  time: number
  sender: string
  blockBytes: number
  model?: ModelEntry
  anchor?: AnchorEntry
}

export function normalizeAddress (address: string): string {
  if (!/^0x[0-9a-fA-F]{1,64}$/.test(address)) throw new InvalidTransactionError(`"${address.slice(0, 80)}" is not a Sui address`)
  return `0x${address.slice(2).toLowerCase().padStart(64, '0')}`
}

/**
 * The local ledger's chain in level: one signed transaction per block, each
 * block naming the SHA-256 of the one before. A block and every index entry it
 * makes are written in one batch, so a crash leaves the chain as it was.
 * Indexes only point at blocks: every entry read is decoded from its block,
 * whose signature and link to the next block are checked, so a rewritten index
 * can make a lookup fail (LedgerCorruptError) but not change what it returns.
 */
export class ChainStore {
  readonly dir: string
  private readonly db: Level<string, Uint8Array>
  private headState?: ChainHead
  private tail: Promise<unknown> = Promise.resolve()
  private readonly verified = new Map<number, Verified>()

  constructor (dir: string) {
    this.dir = dir
    this.db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' })
  }

  async open (): Promise<void> {
    await openLevelStore(this.db, 'ledger store', this.dir, message => new LedgerStoreError(message))
    const version = await this.db.get('meta/version')
    if (version == null) {
      if (await this.firstKey() != null) throw new LedgerStoreError(`${this.dir} holds data but no ledger version: not a herd ledger`)
      await this.db.put('meta/version', encoder.encode(STORE_VERSION))
    } else if (decoder.decode(version) === '2') {
      await this.migrateFromV2()
    } else if (decoder.decode(version) !== STORE_VERSION) {
      throw new LedgerStoreError(`${this.dir} is ledger store version ${decoder.decode(version)}, this herd reads version ${STORE_VERSION}`)
    }
    const head = await this.db.get('meta/head')
    if (head != null) this.headState = unjson<ChainHead>(head)
  }

  async close (): Promise<void> {
    await this.tail
    await this.db.close()
  }

  head (): ChainHead | undefined {
    return this.headState != null ? { ...this.headState } : undefined
  }

  /** Checks, then appends, one signed transaction. Appends run one at a time. */
  async append (txBytes: Uint8Array): Promise<AppendResult> {
    const run = this.tail.then(async () => this.appendNow(txBytes))
    this.tail = run.catch(() => {})
    return run
  }

  private async appendNow (txBytes: Uint8Array): Promise<AppendResult> {
    const { payload, sender } = await verifyTx(txBytes)
    const txId = txIdOf(txBytes)
    const previous = this.headState
    const height = previous == null ? 0 : previous.height + 1
    const prevHash = previous == null ? GENESIS_PREV_HASH : Buffer.from(previous.hash, 'hex')
    const lastTime = previous == null ? 0 : (decodeBlock(await this.blockBytes(previous.height)).time)
    const time = Math.max(Date.now(), lastTime)
    const made = entryOf({ payload, sender }, txId, height, time)
    if (made.kind === 'model' && await this.db.get(modelKey(made.entry.name, made.entry.version)) != null) {
      throw new DuplicateModelError(`model ${made.entry.name}@${made.entry.version} is already registered`)
    }
    if (made.kind === 'anchor' && await this.db.get(anchorKey(made.entry.root)) != null) throw new DuplicateAnchorError(`root ${made.entry.root} is already anchored`)
    const ops: Array<{ type: 'put', key: string, value: Uint8Array }> = []
    for (const key of indexKeysOf(made)) {
      if (key.startsWith('model-blob/') && await this.db.get(key) != null) continue
      ops.push({ type: 'put', key, value: encoder.encode(pointerValue(height)) })
    }
    const result: AppendResult = { txId, height, time, sender, blockBytes: 0 }
    if (made.kind === 'model') result.model = made.entry
    else result.anchor = made.entry

    const blockBytes = encodeBlock({ height, prevHash, time, txBytes })
    const head: ChainHead = { height, hash: Buffer.from(sha256(blockBytes)).toString('hex') }
    ops.push({ type: 'put', key: heightKey(height), value: blockBytes })
    ops.push({ type: 'put', key: 'meta/head', value: json(head) })
    await this.db.batch(ops)
    this.headState = head
    this.remember(height, { entry: made.entry, block: blockBytes, made })
    result.blockBytes = blockBytes.length
    log('block %d: %s by %s, %d bytes', height, payload.kind, sender, blockBytes.length)
    return result
  }

  async blockBytes (height: number): Promise<Uint8Array> {
    const bytes = await this.db.get(heightKey(height))
    if (bytes == null) throw new NotFoundError(`no block at height ${height}`)
    return bytes
  }

  /** Raw blocks from `from`, up to `limit`, in height order; a missing height ends the page early. */
  async blocks (from: number, limit: number): Promise<Array<{ height: number, bytes: Uint8Array }>> {
    const out: Array<{ height: number, bytes: Uint8Array }> = []
    for await (const [key, value] of this.db.iterator({ gte: heightKey(from), lt: 'block0', limit: Math.min(limit, MAX_BLOCKS_PER_PAGE) })) {
      out.push({ height: Number(key.slice(6)), bytes: value })
    }
    return out
  }

  async getModel (ref: string): Promise<StoredEntry<ModelEntry>> {
    if (isBlobId(ref)) {
      const found = await this.lookup(modelBlobKey(ref))
      if (found == null) throw new NotFoundError(`no model is registered with blob ID ${ref}`)
      return found as StoredEntry<ModelEntry>
    }
    const { name, version } = parseModelRef(ref)
    if (version != null) {
      const found = await this.lookup(modelKey(name, version))
      if (found == null) throw new NotFoundError(`no model ${name}@${version} is registered`)
      return found as StoredEntry<ModelEntry>
    }
    // The latest is the last registered: every version's pointer is checked, so a forged one cannot hide a later version.
    let latest: Verified | undefined
    for await (const [key, value] of this.db.iterator(modelVersionsRange(name))) {
      const found = await this.follow(key, value)
      if (latest == null || found.entry.height > latest.entry.height) latest = found
    }
    if (latest == null) throw new NotFoundError(`no model ${name} is registered`)
    return latest as StoredEntry<ModelEntry>
  }

  async listModels (): Promise<Array<StoredEntry<ModelEntry>>> {
    const out: Verified[] = []
    for await (const [key, value] of this.db.iterator({ gte: 'model/', lt: 'model0' })) out.push(await this.follow(key, value))
    return out.sort((a, b) => a.entry.height - b.entry.height) as Array<StoredEntry<ModelEntry>>
  }

  async getAnchor (rootOrTxId: string): Promise<StoredEntry<AnchorEntry>> {
    const byRoot = /^[0-9a-f]{64}$/.test(rootOrTxId)
    const found = await this.lookup(byRoot ? anchorKey(rootOrTxId) : anchorTxKey(rootOrTxId))
    if (found == null) throw new NotFoundError(byRoot ? `root ${rootOrTxId} is not anchored` : `no anchor with root or transaction ID ${rootOrTxId.slice(0, 100)}`)
    return found as StoredEntry<AnchorEntry>
  }

  async listAnchors (address: string): Promise<Array<StoredEntry<AnchorEntry>>> {
    const out: Verified[] = []
    for await (const [key, value] of this.db.iterator(addressAnchorsRange(normalizeAddress(address)))) out.push(await this.follow(key, value))
    return out as Array<StoredEntry<AnchorEntry>>
  }

  /** Raw index entries after `after`, in key order: what `herd ledger verify` compares with the blocks. */
  async indexEntries (after: string | undefined, limit: number): Promise<IndexEntry[]> {
    const out: IndexEntry[] = []
    const max = Math.min(limit, MAX_INDEX_ENTRIES_PER_PAGE)
    const iterator = this.db.iterator(after != null ? { gt: after } : {})
    try {
      while (out.length < max) {
        const next = await iterator.next()
        if (next == null) break
        const [key, value] = next
        // Blocks and store metadata are not indexes: jump past them ('0' follows '/').
        if (key.startsWith('block/')) iterator.seek('block0')
        else if (key.startsWith('meta/')) iterator.seek('meta0')
        else out.push({ key, value: decoder.decode(value) })
      }
    } finally {
      await iterator.close()
    }
    return out
  }

  private async lookup (key: string): Promise<Verified | undefined> {
    const value = await this.db.get(key)
    return value != null ? this.follow(key, value) : undefined
  }

  /** Follows an index pointer to its block and checks that the block's entry makes that key. */
  private async follow (key: string, value: Uint8Array): Promise<Verified> {
    const height = value.length <= MAX_POINTER_BYTES ? parsePointer(decoder.decode(value)) : undefined
    if (height == null) throw new LedgerCorruptError(`index entry ${key} does not hold a block height`)
    const found = this.verified.get(height) ?? await this.verifyBlock(key, height)
    if (!entryMakesKey(found.made, key)) throw new LedgerCorruptError(`index entry ${key} points at block ${height}, which holds ${describeEntry(found.made)}`)
    return found
  }

  /**
   * Checks the block at `height` before its entry is believed: it decodes, says
   * its own height, its signature verifies, and the next block (or the head)
   * names its hash.
   */
  private async verifyBlock (key: string, height: number): Promise<Verified> {
    const corrupt = (why: string): LedgerCorruptError => new LedgerCorruptError(`index entry ${key} points at block ${height}, which ${why}`)
    const bytes = await this.db.get(heightKey(height))
    if (bytes == null) throw corrupt('is not stored')
    let decoded
    try {
      decoded = await entryOfBlock(bytes)
    } catch (err) {
      throw corrupt(`does not verify: ${(err as Error).message}`)
    }
    if (decoded.block.height !== height) throw corrupt(`says it is block ${decoded.block.height}`)
    const hash = Buffer.from(sha256(bytes))
    const next = await this.db.get(heightKey(height + 1))
    if (next != null) {
      let prevHash
      try {
        prevHash = decodeBlock(next).prevHash
      } catch (err) {
        throw corrupt(`is followed by a block that does not decode: ${(err as Error).message}`)
      }
      if (!hash.equals(prevHash)) throw corrupt(`is not the block that block ${height + 1} follows`)
    } else {
      const head = this.headState
      if (head == null || head.height !== height || head.hash !== hash.toString('hex')) throw corrupt('is not linked to the chain: no next block, and it is not the head')
    }
    const found: Verified = { entry: decoded.entry.entry, block: bytes, made: decoded.entry }
    this.remember(height, found)
    return found
  }

  private remember (height: number, found: Verified): void {
    if (this.verified.size >= MAX_VERIFIED) this.verified.delete(this.verified.keys().next().value!)
    this.verified.set(height, found)
  }

  /**
   * Rebuilds the indexes of a version 2 store as pointers, from its blocks, in
   * one batch: nothing changes unless all of it does. Each block's signature is
   * checked, a few milliseconds a block, once.
   */
  private async migrateFromV2 (): Promise<void> {
    const ops: Array<{ type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }> = []
    for await (const key of this.db.keys()) {
      if (V2_INDEX_PREFIXES.some(prefix => key.startsWith(prefix))) ops.push({ type: 'del', key })
    }
    const blobs = new Set<string>()
    for await (const [key, bytes] of this.db.iterator({ gte: 'block/', lt: 'block0' })) {
      let made: BlockEntry
      try {
        made = (await entryOfBlock(bytes)).entry
      } catch (err) {
        // Left out of the indexes, so no read serves it; `herd ledger verify` reports the block itself.
        log.error('%s does not verify, left out of the indexes: %s', key, (err as Error).message)
        continue
      }
      for (const index of indexKeysOf(made)) {
        if (index.startsWith('model-blob/')) {
          if (blobs.has(index)) continue
          blobs.add(index)
        }
        ops.push({ type: 'put', key: index, value: encoder.encode(pointerValue(made.entry.height)) })
      }
    }
    ops.push({ type: 'put', key: 'meta/version', value: encoder.encode(STORE_VERSION) })
    await this.db.batch(ops)
    log('moved %s from store version 2 to %s: indexes rebuilt from the blocks', this.dir, STORE_VERSION)
  }

  private async firstKey (): Promise<string | undefined> {
    for await (const key of this.db.keys({ limit: 1 })) return key
    return undefined
  }
}

