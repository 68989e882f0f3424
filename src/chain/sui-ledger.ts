import type { Signer } from '@mysten/sui/cryptography'
import { SuiGraphQLClient } from '@mysten/sui/graphql'
import { SuiGrpcClient } from '@mysten/sui/grpc'
import { isBlobId, type BlobId } from '../blob/blob-id.js'
import { BlobObjectNotFoundError, InvalidTransactionError, LedgerError, NotFoundError, RetryableLedgerError } from './errors.js'
import { normalizeAddress } from './local/chain-store.js'
import { anchorAttributes, attributeBytes, buildAttributesTransaction, MAX_ANCHOR_ATTRIBUTE_BYTES, modelAttributes } from './sui/attributes.js'
import { executeTransaction } from './sui/execute.js'
import type { OnPaid, PaymentKind } from '../payments.js'
import { findOwnedBlob, listOwnerBlobs, toAnchor, toModel, type BlobView } from './sui/registry.js'
import type { AnchorEntry, AnchorInput, AnchorReceipt, Ledger, ModelEntry, ModelInput } from './types.js'
import { parseModelRef, validateAnchorInput, validateModelInput } from './validation.js'

export { ATTR, anchorAttributes, attributeBytes, buildAttributesTransaction, MAX_ANCHOR_ATTRIBUTE_BYTES, modelAttributes, type ObjectRef } from './sui/attributes.js'

export type SuiNetwork = 'mainnet' | 'testnet' | 'devnet' | 'localnet'

export interface SuiLedgerInit {
  network: SuiNetwork
  /** Sui full node URL (one URL serves gRPC). */
  grpcUrl: string
  /** Sui GraphQL URL, for indexed reads. */
  graphqlUrl: string
  /** The Walrus system object of the network (from @mysten/walrus's *_WALRUS_PACKAGE_CONFIG). */
  systemObjectId: string
  signer?: Signer
  /** Registry owners besides the signer whose Blob objects count as entries (the profile's trusted publishers). */
  registryOwners?: string[]
  /** Tests: clients over a stand-in transport. */
  client?: SuiGrpcClient
  graphql?: SuiGraphQLClient
  /** Tries after the first when the Blob object changed under a write (4 by default), and the first backoff (500 ms, doubling). */
  conflictRetries?: number
  conflictBackoffMs?: number
  /** Told the gas of every transaction the ledger executes (the payment log). */
  onPaid?: OnPaid
}

export interface WalrusPackages {
  /** The package to call: the latest upgrade, named by the system object. */
  callPackage: string
  /** The package that defines the Blob type: the original one, named by the system object's type. */
  typePackage: string
}

function checkUrl (field: string, value: string): void {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new LedgerError(`${field}: "${String(value).slice(0, 200)}" is not a URL`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new LedgerError(`${field}: ${url.origin} is not http(s)`)
}

/**
 * The Ledger on Sui: a model's or a bundle's references are metadata
 * attributes of its own Walrus Blob object. Writes go through gRPC
 * (simulate with gas selection, sign, execute, wait for the checkpoint);
 * reads go through the GraphQL index, one request per page of an owner's
 * Blob objects with their metadata. Tested against in-process stand-ins of
 * both services; not run against a live network from here (docs/ledger.md).
 */
export class SuiLedger implements Ledger {
  readonly kind = 'sui'
  readonly client: SuiGrpcClient
  readonly graphql: SuiGraphQLClient
  readonly network: SuiNetwork
  private readonly init: SuiLedgerInit
  private packages?: Promise<WalrusPackages>

  constructor (init: SuiLedgerInit) {
    if (!['mainnet', 'testnet', 'devnet', 'localnet'].includes(init.network)) throw new LedgerError(`network: "${String(init.network).slice(0, 40)}" is not a Sui network`)
    if (init.client == null) checkUrl('grpcUrl', init.grpcUrl)
    if (init.graphql == null) checkUrl('graphqlUrl', init.graphqlUrl)
    normalizeAddress(init.systemObjectId)
    for (const owner of init.registryOwners ?? []) normalizeAddress(owner)
    this.init = init
    this.network = init.network
    this.client = init.client ?? new SuiGrpcClient({ network: init.network, baseUrl: init.grpcUrl })
    this.graphql = init.graphql ?? new SuiGraphQLClient({ network: init.network, url: init.graphqlUrl })
  }

  get address (): string | undefined {
    return this.init.signer?.toSuiAddress()
  }

  /**
   * Read once from the Walrus system object, whose type names the original
   * package and whose `package_id` the current one. The read is shared by
   * every caller, so it does not take one caller's signal; each caller stops
   * waiting on its own.
   */
  async walrusPackages (options: { signal?: AbortSignal } = {}): Promise<WalrusPackages> {
    this.packages ??= (async () => {
      let object
      try {
        ({ object } = await this.client.getObject({ objectId: this.init.systemObjectId, include: { json: true } }))
      } catch (err) {
        throw new RetryableLedgerError(`Sui: reading the Walrus system object ${this.init.systemObjectId}: ${(err as Error).message}`, { cause: err })
      }
      const callPackage = (object.json as { package_id?: unknown } | null | undefined)?.package_id
      const [typePackage, module, name] = object.type.split('::')
      if (typeof callPackage !== 'string' || typePackage == null || module !== 'system' || name !== 'System') {
        throw new LedgerError(`object ${this.init.systemObjectId} is not a Walrus system object (type ${object.type.slice(0, 200)})`)
      }
      return { callPackage, typePackage }
    })()
    // A failed read is not remembered: the next call reads again.
    this.packages.catch(() => { this.packages = undefined })
    const signal = options.signal
    if (signal == null) return this.packages
    signal.throwIfAborted()
    return Promise.race([this.packages, new Promise<never>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))])
  }

  async registerModel (model: ModelInput, options: { signal?: AbortSignal } = {}): Promise<ModelEntry> {
    const valid = validateModelInput(model)
    const existing = await this.findModel(valid.name, valid.version, options.signal).catch(err => { if (err instanceof NotFoundError) return undefined; throw err })
    if (existing != null) throw new InvalidTransactionError(`model ${valid.name}@${valid.version} is already registered`)
    const blobObjectId = valid.blobObjectId ?? await this.ownBlobObject(valid.blobId, options.signal)
    const receipt = await this.writeAttributes(blobObjectId, modelAttributes(valid), 'registry', options.signal)
    const { blobObjectId: _given, ...rest } = valid
    return { ...rest, blobObjectId, registeredBy: receipt.address, txId: receipt.txId, height: receipt.height, time: receipt.time }
  }

  async anchor (anchor: AnchorInput, options: { signal?: AbortSignal } = {}): Promise<AnchorReceipt> {
    const valid = validateAnchorInput(anchor)
    const attributes = anchorAttributes(valid)
    const bytes = attributeBytes(attributes)
    if (bytes > MAX_ANCHOR_ATTRIBUTE_BYTES) throw new InvalidTransactionError(`an anchor's attributes are ${bytes} bytes, over the ${MAX_ANCHOR_ATTRIBUTE_BYTES} allowed`)
    const bundleObjectId = valid.bundleObjectId ?? await this.ownBlobObject(valid.bundleBlobId, options.signal)
    return this.writeAttributes(bundleObjectId, attributes, 'anchor', options.signal)
  }

  async getModel (ref: string, options: { signal?: AbortSignal } = {}): Promise<ModelEntry> {
    if (isBlobId(ref)) {
      const found = (await this.listModels(options)).find(m => m.blobId === ref)
      if (found == null) throw new NotFoundError(`no model is registered with blob ID ${ref}`)
      return found
    }
    const { name, version } = parseModelRef(ref)
    return this.findModel(name, version, options.signal)
  }

  async listModels (options: { signal?: AbortSignal } = {}): Promise<ModelEntry[]> {
    const blobs = await this.registryBlobs(options.signal)
    return blobs.flatMap(b => toModel(b) ?? [])
  }

  async getAnchor (rootOrTxId: string, options: { signal?: AbortSignal } = {}): Promise<AnchorEntry> {
    const blobs = await this.registryBlobs(options.signal)
    const found = blobs.flatMap(b => toAnchor(b, this.kind) ?? []).find(a => a.root === rootOrTxId || a.txId === rootOrTxId)
    if (found == null) throw new NotFoundError(`no anchor with root or transaction ID ${rootOrTxId.slice(0, 100)}`)
    return found
  }

  async listAnchors (address: string, options: { signal?: AbortSignal } = {}): Promise<AnchorEntry[]> {
    const blobs = await this.ownerBlobs(normalizeAddress(address), options.signal)
    return blobs.flatMap(b => toAnchor(b, this.kind) ?? [])
  }

  async close (): Promise<void> {}

  private async findModel (name: string, version: string | undefined, signal: AbortSignal | undefined): Promise<ModelEntry> {
    const matches = (await this.listModels(signal != null ? { signal } : {})).filter(m => m.name === name && (version == null || m.version === version))
    const found = matches.sort((a, b) => a.time - b.time).at(-1)
    if (found == null) throw new NotFoundError(`no model ${name}${version != null ? `@${version}` : ''} is registered`)
    return found
  }

  /**
   * The signer's own Blob object of `blobId`, for a write whose caller knows
   * only the blob: the batcher's bundles (a publisher sends the Blob object
   * to the node), or a blob the publisher had already certified. Only the
   * owner can write attributes on a Blob.
   */
  private async ownBlobObject (blobId: BlobId, signal?: AbortSignal): Promise<string> {
    const owner = this.address
    if (owner == null) throw new LedgerError('this ledger is read-only: writes need the node key')
    const { typePackage } = await this.walrusPackages(signal != null ? { signal } : {})
    const found = await findOwnedBlob(this.graphql, normalizeAddress(owner), `${typePackage}::blob::Blob`, blobId, signal)
    if (found == null) throw new BlobObjectNotFoundError(blobId, owner, this.network)
    return found
  }

  private async writeAttributes (blobObjectId: string, attributes: Record<string, string>, kind: PaymentKind, signal?: AbortSignal): Promise<AnchorReceipt> {
    const signer = this.init.signer
    if (signer == null) throw new LedgerError('this ledger is read-only: writes need the node key')
    const { callPackage } = await this.walrusPackages(signal != null ? { signal } : {})
    const done = await executeTransaction(this.client, signer, () => buildAttributesTransaction(callPackage, blobObjectId, attributes), {
      network: this.network,
      kind,
      ...(this.init.onPaid != null ? { onPaid: this.init.onPaid } : {}),
      ...(signal != null ? { signal } : {}),
      ...(this.init.conflictRetries != null ? { conflictRetries: this.init.conflictRetries } : {}),
      ...(this.init.conflictBackoffMs != null ? { conflictBackoffMs: this.init.conflictBackoffMs } : {})
    })
    return { ledger: this.kind, txId: done.digest, height: done.checkpoint, time: done.time, address: signer.toSuiAddress() }
  }

  private async registryBlobs (signal?: AbortSignal): Promise<BlobView[]> {
    const owners = new Set([...(this.init.registryOwners ?? []), ...(this.address != null ? [this.address] : [])].map(normalizeAddress))
    const all = await Promise.all([...owners].map(async owner => this.ownerBlobs(owner, signal)))
    return all.flat()
  }

  private async ownerBlobs (owner: string, signal?: AbortSignal): Promise<BlobView[]> {
    const { typePackage } = await this.walrusPackages(signal != null ? { signal } : {})
    return listOwnerBlobs(this.graphql, owner, `${typePackage}::blob::Blob`, signal)
  }
}
