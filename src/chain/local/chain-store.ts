import { logger } from '@libp2p/logger'
import { Level } from 'level'
import { isBlobId } from '../../blob/blob-id.js'
import { decodeBlock, encodeBlock, GENESIS_PREV_HASH, sha256, txIdOf } from '../codec.js'
import { DuplicateAnchorError, DuplicateModelError, InvalidTransactionError, LedgerStoreError, NotFoundError } from '../errors.js'
import { verifyTx } from '../signing.js'
import type { AnchorEntry, ModelEntry } from '../types.js'
import { parseModelRef, validateAnchorInput, validateModelInput } from '../validation.js'

const log = logger('herd:chain:local:chain-store')

/** 2: a model registration carries `chunkHashesBlobId`. */
export const STORE_VERSION = '2'
export const MAX_BLOCKS_PER_PAGE = 1000

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const json = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value))
const unjson = <T>(bytes: Uint8Array): T => JSON.parse(decoder.decode(bytes)) as T
export const heightKey = (height: number): string => `block/${String(height).padStart(12, '0')}`

export interface ChainHead {
  height: number
  hash: string
}

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
 */
export class ChainStore {
  readonly dir: string
  private readonly db: Level<string, Uint8Array>
  private headState?: ChainHead
  private tail: Promise<unknown> = Promise.resolve()

  constructor (dir: string) {
    this.dir = dir
    this.db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' })
  }

  async open (): Promise<void> {
    try {
      await this.db.open()
    } catch (err: any) {
      if (err?.cause?.code === 'LEVEL_LOCKED') throw new LedgerStoreError(`ledger store ${this.dir} is in use by another process`)
      throw new LedgerStoreError(`cannot open ledger store ${this.dir}: ${err?.cause?.message ?? err?.message}`)
    }
    const version = await this.db.get('meta/version')
    if (version == null) {
      if (await this.firstKey() != null) throw new LedgerStoreError(`${this.dir} holds data but no ledger version: not a herd ledger`)
      await this.db.put('meta/version', encoder.encode(STORE_VERSION))
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
    const ops: Array<{ type: 'put', key: string, value: Uint8Array }> = []
    const result: AppendResult = { txId, height, time, sender, blockBytes: 0 }

    if (payload.kind === 'registerModel') {
      const model = validateModelInput(payload.model)
      const key = `model/${model.name}/${model.version}`
      if (await this.db.get(key) != null) throw new DuplicateModelError(`model ${model.name}@${model.version} is already registered`)
      const entry: ModelEntry = { ...model, registeredBy: sender, txId, height, time }
      ops.push({ type: 'put', key, value: json(entry) })
      ops.push({ type: 'put', key: `model-latest/${model.name}`, value: encoder.encode(model.version) })
      if (await this.db.get(`model-blob/${model.blobId}`) == null) {
        ops.push({ type: 'put', key: `model-blob/${model.blobId}`, value: encoder.encode(`${model.name}@${model.version}`) })
      }
      result.model = entry
    } else {
      const anchor = validateAnchorInput(payload.anchor)
      if (await this.db.get(`anchor/${anchor.root}`) != null) throw new DuplicateAnchorError(`root ${anchor.root} is already anchored`)
      const entry: AnchorEntry = { ...anchor, ledger: 'local', txId, height, time, address: sender }
      ops.push({ type: 'put', key: `anchor/${anchor.root}`, value: json(entry) })
      ops.push({ type: 'put', key: `anchor-tx/${txId}`, value: encoder.encode(anchor.root) })
      ops.push({ type: 'put', key: `addr-anchor/${sender}/${String(height).padStart(12, '0')}`, value: encoder.encode(anchor.root) })
      result.anchor = entry
    }

    const blockBytes = encodeBlock({ height, prevHash, time, txBytes })
    const head: ChainHead = { height, hash: Buffer.from(sha256(blockBytes)).toString('hex') }
    ops.push({ type: 'put', key: heightKey(height), value: blockBytes })
    ops.push({ type: 'put', key: 'meta/head', value: json(head) })
    await this.db.batch(ops)
    this.headState = head
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

  async getModel (ref: string): Promise<ModelEntry> {
    if (isBlobId(ref)) {
      const named = await this.db.get(`model-blob/${ref}`)
      if (named == null) throw new NotFoundError(`no model is registered with blob ID ${ref}`)
      ref = decoder.decode(named)
    }
    const { name, version } = parseModelRef(ref)
    const resolved = version ?? (await this.db.get(`model-latest/${name}`).then(v => v != null ? decoder.decode(v) : undefined))
    const entry = resolved != null ? await this.db.get(`model/${name}/${resolved}`) : undefined
    if (entry == null) throw new NotFoundError(`no model ${name}${version != null ? `@${version}` : ''} is registered`)
    return unjson<ModelEntry>(entry)
  }

  async listModels (): Promise<ModelEntry[]> {
    const out: ModelEntry[] = []
    for await (const value of this.db.values({ gte: 'model/', lt: 'model0' })) out.push(unjson<ModelEntry>(value))
    return out.sort((a, b) => a.height - b.height)
  }

  async getAnchor (rootOrTxId: string): Promise<AnchorEntry> {
    let root = rootOrTxId
    if (!/^[0-9a-f]{64}$/.test(rootOrTxId)) {
      const byTx = await this.db.get(`anchor-tx/${rootOrTxId}`)
      if (byTx == null) throw new NotFoundError(`no anchor with root or transaction ID ${rootOrTxId.slice(0, 100)}`)
      root = decoder.decode(byTx)
    }
    const entry = await this.db.get(`anchor/${root}`)
    if (entry == null) throw new NotFoundError(`root ${root} is not anchored`)
    return unjson<AnchorEntry>(entry)
  }

  async listAnchors (address: string): Promise<AnchorEntry[]> {
    const owner = normalizeAddress(address)
    const out: AnchorEntry[] = []
    for await (const root of this.db.values({ gte: `addr-anchor/${owner}/`, lt: `addr-anchor/${owner}0` })) {
      out.push(await this.getAnchor(decoder.decode(root)))
    }
    return out
  }

  private async firstKey (): Promise<string | undefined> {
    for await (const key of this.db.keys({ limit: 1 })) return key
    return undefined
  }
}

