import { SuiJsonRpcClient } from '@mysten/sui/jsonRpc'
import type { Signer } from '@mysten/sui/cryptography'
import { Transaction } from '@mysten/sui/transactions'
import { blobIdFromU256, isBlobId } from '../blob/blob-id.js'
import { InvalidTransactionError, LedgerError, NotFoundError, RetryableLedgerError } from './errors.js'
import { normalizeAddress } from './local/chain-store.js'
import type { AnchorEntry, AnchorInput, AnchorReceipt, Ledger, ModelEntry, ModelInput } from './types.js'
import { parseModelRef, validateAnchorInput, validateModelInput } from './validation.js'

/** Attribute keys herd writes on Walrus Blob objects; prefixed so they sit beside anyone else's. */
export const ATTR = {
  kind: 'herd:kind',
  name: 'herd:name',
  version: 'herd:version',
  size: 'herd:size',
  chunkSize: 'herd:chunk-size',
  chunkRoot: 'herd:chunk-root',
  chunkHashes: 'herd:chunk-hashes',
  format: 'herd:format',
  inputs: 'herd:inputs',
  outputs: 'herd:outputs',
  root: 'herd:root',
  count: 'herd:count'
} as const

const METADATA_FIELD_NAME = [...new TextEncoder().encode('metadata')]
const PAGE = 50

export interface ObjectRef { objectId: string, version: string | number, digest: string }

/**
 * One programmable transaction that writes each attribute with
 * `walrus::blob::insert_or_update_metadata_pair`, which creates the Blob's
 * metadata if it has none, so no custom Move package is needed.
 */
export function buildAttributesTransaction (walrusPackageId: string, blob: string | ObjectRef, attributes: Record<string, string>): Transaction {
  const tx = new Transaction()
  const self = typeof blob === 'string' ? tx.object(blob) : tx.objectRef(blob)
  for (const [key, value] of Object.entries(attributes)) {
    tx.moveCall({ target: `${walrusPackageId}::blob::insert_or_update_metadata_pair`, arguments: [self, tx.pure.string(key), tx.pure.string(value)] })
  }
  return tx
}

export function modelAttributes (model: ModelInput): Record<string, string> {
  return {
    [ATTR.kind]: 'model',
    [ATTR.name]: model.name,
    [ATTR.version]: model.version,
    [ATTR.size]: String(model.size),
    [ATTR.chunkSize]: String(model.chunkSize),
    [ATTR.chunkRoot]: model.chunkRoot,
    [ATTR.chunkHashes]: model.chunkHashesBlobId,
    [ATTR.format]: model.format,
    [ATTR.inputs]: JSON.stringify(model.inputs),
    [ATTR.outputs]: JSON.stringify(model.outputs)
  }
}

export function anchorAttributes (anchor: AnchorInput): Record<string, string> {
  return { [ATTR.kind]: 'anchor', [ATTR.root]: anchor.root, [ATTR.count]: String(anchor.count) }
}

export interface SuiLedgerInit {
  /** Sui full node JSON-RPC URL. */
  url: string
  network: 'mainnet' | 'testnet' | 'devnet' | 'localnet'
  /** The Walrus system object of the network (`@mysten/walrus` *_WALRUS_PACKAGE_CONFIG). */
  systemObjectId: string
  signer?: Signer
  /** Registry owners besides the signer whose Blob objects count as entries. */
  registryOwners?: string[]
  client?: SuiJsonRpcClient
}

interface BlobView { objectId: string, blobId: string, owner: string, attributes: Record<string, string>, version: string, previousTransaction?: string }

/**
 * The Ledger on Sui: a model's or a bundle's references are metadata
 * attributes of its own Walrus Blob object. Reads list the Blob objects of the
 * registry owners and read their attributes. Built and tested offline against
 * a fake of the few JSON-RPC calls used; not run against testnet from here.
 */
export class SuiLedger implements Ledger {
  readonly kind = 'sui'
  readonly client: SuiJsonRpcClient
  private readonly init: SuiLedgerInit
  private packages?: Promise<{ callPackage: string, typePackage: string }>

  constructor (init: SuiLedgerInit) {
    this.init = init
    this.client = init.client ?? new SuiJsonRpcClient({ url: init.url, network: init.network })
  }

  get address (): string | undefined {
    return this.init.signer?.toSuiAddress()
  }

  /** The package to call (the latest upgrade) and the package that defines the Blob type (the original). */
  async walrusPackages (): Promise<{ callPackage: string, typePackage: string }> {
    this.packages ??= this.rpc('reading the Walrus system object', async () => {
      const system = await this.client.getObject({ id: this.init.systemObjectId, options: { showContent: true, showType: true } })
      const content = system.data?.content as { dataType?: string, type?: string, fields?: { package_id?: string } } | undefined
      const callPackage = content?.fields?.package_id
      const typePackage = content?.type?.split('::')[0]
      if (callPackage == null || typePackage == null) throw new LedgerError(`object ${this.init.systemObjectId} is not a Walrus system object`)
      return { callPackage, typePackage }
    })
    return this.packages
  }

  async registerModel (model: ModelInput, options: { signal?: AbortSignal } = {}): Promise<ModelEntry> {
    const valid = validateModelInput(model)
    if (valid.blobObjectId == null) throw new InvalidTransactionError('on Sui a model is registered on its Walrus Blob object: blobObjectId is required')
    const existing = await this.findModel(valid.name, valid.version).catch(err => { if (err instanceof NotFoundError) return undefined; throw err })
    if (existing != null) throw new InvalidTransactionError(`model ${valid.name}@${valid.version} is already registered`)
    const receipt = await this.writeAttributes(valid.blobObjectId, modelAttributes(valid), options.signal)
    const { blobObjectId, ...rest } = valid
    return { ...rest, blobObjectId, registeredBy: receipt.address, txId: receipt.txId, height: receipt.height, time: receipt.time }
  }

  async anchor (anchor: AnchorInput, options: { signal?: AbortSignal } = {}): Promise<AnchorReceipt> {
    const valid = validateAnchorInput(anchor)
    if (valid.bundleObjectId == null) throw new InvalidTransactionError('on Sui an anchor is written on the bundle\'s Walrus Blob object: bundleObjectId is required')
    return this.writeAttributes(valid.bundleObjectId, anchorAttributes(valid), options.signal)
  }

  async getModel (ref: string): Promise<ModelEntry> {
    if (isBlobId(ref)) {
      const found = (await this.listModels()).find(m => m.blobId === ref)
      if (found == null) throw new NotFoundError(`no model is registered with blob ID ${ref}`)
      return found
    }
    const { name, version } = parseModelRef(ref)
    return this.findModel(name, version)
  }

  async listModels (): Promise<ModelEntry[]> {
    const blobs = await this.registryBlobs()
    return blobs.filter(b => b.attributes[ATTR.kind] === 'model').map(b => this.toModel(b))
  }

  async getAnchor (rootOrTxId: string): Promise<AnchorEntry> {
    const blobs = await this.registryBlobs()
    const found = blobs.find(b => b.attributes[ATTR.kind] === 'anchor' && (b.attributes[ATTR.root] === rootOrTxId || b.previousTransaction === rootOrTxId))
    if (found == null) throw new NotFoundError(`no anchor with root or transaction ID ${rootOrTxId.slice(0, 100)}`)
    return this.toAnchor(found)
  }

  async listAnchors (address: string): Promise<AnchorEntry[]> {
    const owner = normalizeAddress(address)
    const blobs = await this.ownedBlobs(owner)
    return blobs.filter(b => b.attributes[ATTR.kind] === 'anchor').map(b => this.toAnchor(b))
  }

  async close (): Promise<void> {}

  private async findModel (name: string, version?: string): Promise<ModelEntry> {
    const matches = (await this.listModels()).filter(m => m.name === name && (version == null || m.version === version))
    const found = matches.sort((a, b) => a.time - b.time).at(-1)
    if (found == null) throw new NotFoundError(`no model ${name}${version != null ? `@${version}` : ''} is registered`)
    return found
  }

  private toModel (b: BlobView): ModelEntry {
    const a = b.attributes
    return {
      name: a[ATTR.name] ?? '',
      version: a[ATTR.version] ?? '',
      blobId: b.blobId as ModelEntry['blobId'],
      size: Number(a[ATTR.size]),
      chunkSize: Number(a[ATTR.chunkSize]),
      chunkRoot: a[ATTR.chunkRoot] ?? '',
      chunkHashesBlobId: (a[ATTR.chunkHashes] ?? '') as ModelEntry['chunkHashesBlobId'],
      format: a[ATTR.format] ?? '',
      inputs: JSON.parse(a[ATTR.inputs] ?? '[]'),
      outputs: JSON.parse(a[ATTR.outputs] ?? '[]'),
      blobObjectId: b.objectId,
      registeredBy: b.owner,
      txId: b.previousTransaction ?? '',
      height: Number(b.version),
      time: 0
    }
  }

  private toAnchor (b: BlobView): AnchorEntry {
    return {
      root: b.attributes[ATTR.root] ?? '',
      count: Number(b.attributes[ATTR.count]),
      bundleBlobId: b.blobId as AnchorEntry['bundleBlobId'],
      bundleObjectId: b.objectId,
      ledger: this.kind,
      txId: b.previousTransaction ?? '',
      height: Number(b.version),
      time: 0,
      address: b.owner
    }
  }

  private async writeAttributes (blobObjectId: string, attributes: Record<string, string>, signal?: AbortSignal): Promise<AnchorReceipt> {
    const signer = this.init.signer
    if (signer == null) throw new LedgerError('this ledger is read-only: writes need the node key')
    const { callPackage } = await this.walrusPackages()
    const transaction = buildAttributesTransaction(callPackage, blobObjectId, attributes)
    transaction.setSender(signer.toSuiAddress())
    return this.rpc('executing the attributes transaction', async () => {
      signal?.throwIfAborted()
      const result = await this.client.signAndExecuteTransaction({ signer, transaction, options: { showEffects: true } })
      if (result.effects?.status.status !== 'success') throw new LedgerError(`transaction ${result.digest} failed: ${result.effects?.status.error ?? 'unknown'}`)
      const done = await this.client.waitForTransaction({ digest: result.digest, ...(signal != null ? { signal } : {}) })
      return { ledger: this.kind, txId: result.digest, height: Number(done.checkpoint ?? 0), time: Number(done.timestampMs ?? Date.now()), address: signer.toSuiAddress() }
    })
  }

  private async registryBlobs (): Promise<BlobView[]> {
    const owners = new Set([...(this.init.registryOwners ?? []), ...(this.address != null ? [this.address] : [])].map(normalizeAddress))
    const all = await Promise.all([...owners].map(async owner => this.ownedBlobs(owner)))
    return all.flat()
  }

  private async ownedBlobs (owner: string): Promise<BlobView[]> {
    const { typePackage } = await this.walrusPackages()
    const views: BlobView[] = []
    let cursor: string | null | undefined
    for (let page = 0; page < 1000; page++) {
      const response = await this.rpc('listing Blob objects', async () => this.client.getOwnedObjects({
        owner,
        filter: { StructType: `${typePackage}::blob::Blob` },
        options: { showContent: true, showPreviousTransaction: true },
        limit: PAGE,
        ...(cursor != null ? { cursor } : {})
      }))
      for (const item of response.data) {
        const data = item.data
        const fields = (data?.content as { fields?: { blob_id?: string } } | undefined)?.fields
        if (data == null || fields?.blob_id == null) continue
        const attributes = await this.attributes(data.objectId)
        if (attributes[ATTR.kind] == null) continue
        const view: BlobView = { objectId: data.objectId, blobId: blobIdFromU256(fields.blob_id), owner, attributes, version: String(data.version) }
        if (data.previousTransaction != null) view.previousTransaction = data.previousTransaction
        views.push(view)
      }
      if (!response.hasNextPage) break
      cursor = response.nextCursor
    }
    return views
  }

  private async attributes (blobObjectId: string): Promise<Record<string, string>> {
    const response = await this.rpc('reading Blob attributes', async () => this.client.getDynamicFieldObject({
      parentId: blobObjectId,
      name: { type: 'vector<u8>', value: METADATA_FIELD_NAME }
    }))
    if (response.data == null) return {}
    const value = (response.data.content as any)?.fields?.value
    const contents = value?.fields?.metadata?.fields?.contents as Array<{ fields?: { key?: string, value?: string } }> | undefined
    const out: Record<string, string> = {}
    for (const entry of contents ?? []) {
      if (typeof entry.fields?.key === 'string' && typeof entry.fields.value === 'string') out[entry.fields.key] = entry.fields.value
    }
    return out
  }

  private async rpc<T> (what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      if (err instanceof LedgerError || (err as Error).name === 'AbortError') throw err
      throw new RetryableLedgerError(`Sui: ${what}: ${(err as Error).message}`, { cause: err })
    }
  }
}
