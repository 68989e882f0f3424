import { readFile, stat } from 'node:fs/promises'
import { logger } from '@libp2p/logger'
import type { SuiClientTypes } from '@mysten/sui/client'
import type { Signer } from '@mysten/sui/cryptography'
import { SuiGrpcClient } from '@mysten/sui/grpc'
import { WalrusClient, RetryableWalrusClientError } from '@mysten/walrus'
import { writeFileAtomic } from '../blob/atomic-file.js'
import { blobIdFromBytes, parseBlobId, type BlobId } from '../blob/blob-id.js'
import { MAX_ENCODE_BYTES } from '../blob/blob-id-computer.js'
import { encodedBlobLength } from './encoded-size.js'
import { InsufficientFundsError, InsufficientGasError, InsufficientWalError } from '../funds-errors.js'
import { RetryableWalrusError, WalrusError, WalrusProtocolError } from './errors.js'
import { lifetimeOfBlobObject } from './blob-object.js'
import { OffThreadWalrusClient } from './off-thread-client.js'
import { PayingSigner } from './paying-signer.js'
import type { OnPaid, PaymentKind } from '../payments.js'
import type { BlobLifetime, ByteRange, EpochInfo, ExtendRequest, ExtendResult, GetOptions, LifetimeOptions, PutOptions, StoredBlob, WalrusStore } from './types.js'
import { RetryableError } from '../retry.js'

const log = logger('herd:walrus:sdk-store')

export type WalrusNetwork = 'mainnet' | 'testnet'

/** Walrus lets a blob be stored for at most 53 epochs ahead. */
export const MAX_EPOCHS = 53

export interface WalrusSdkStoreInit {
  network: WalrusNetwork
  /** Sui full node URL, spoken to over gRPC. */
  suiUrl: string
  /** Pays gas and WAL and owns the Blob objects: the node's own key. */
  signer?: Signer
  /** An upload relay takes the encoding and the ~2,200 storage-node requests of a write off this machine; `sendTip.max` caps the tip it may ask, in MIST. */
  uploadRelay?: { host: string, sendTip?: { max: number } }
  /** Replaces the client built from the fields above (for tests and custom transports). */
  client?: WalrusClient
  /** The Sui client the Walrus client is built on (for tests over a stand-in transport). */
  suiClient?: SuiGrpcClient
  /** Told what each transaction of a write or an extension cost the node (the payment log). */
  onPaid?: OnPaid
}

/** What storing a blob costs before anything is paid, for `herd model push --dry-run`. */
export interface StorageCost {
  /** Bytes Walrus stores and charges for: the slivers of every shard plus per-shard metadata. */
  encodedSize: number
  /** FROST (10^-9 WAL) for the storage over all the epochs. */
  storageCostWal: bigint
  /** FROST paid once for the write. */
  writeCostWal: bigint
  /**
   * MIST of gas the registration transaction would use, from the node's
   * simulation of it; absent without a signer, or when the node cannot build
   * it (no WAL to draw on). The certification that follows the upload costs
   * gas too and is not in this figure.
   */
  registerGasMist?: bigint
}

/** What `coinWithBalance` says when the sender has too little of a coin (`Insufficient balance of TYPE for owner ADDRESS. Required: N, ...`). */
const SHORT_OF_COIN = /Insufficient balance of (\S+) for owner (\S+)\. Required: (\d+)/
const NO_GAS = /insufficient SUI balance|insufficient[ _]?gas/i
/** Pages of the node's own Blob objects read to find one blob: 5,000 objects, far past what a node owns; past it the blob is reported unknown. */
const MAX_OWNED_PAGES = 100
const OWNED_PAGE = 50

/**
 * Writes and reads blobs with `@mysten/walrus`, through an upload relay when
 * one is configured or straight to the storage nodes, signing with the
 * operator's own Sui key, which pays SUI and WAL and owns the Blob objects.
 * The SDK takes whole blobs in memory, so blobs are capped at the encoder's
 * limit here. Not tried against a live network; see docs/walrus.md.
 */
export class WalrusSdkStore implements WalrusStore {
  readonly client: WalrusClient
  readonly suiClient: SuiGrpcClient
  readonly network: WalrusNetwork
  private readonly signer?: Signer
  private readonly onPaid?: OnPaid

  constructor (init: WalrusSdkStoreInit) {
    if (init.network !== 'mainnet' && init.network !== 'testnet') throw new WalrusError(`the Walrus SDK knows mainnet and testnet, not ${String(init.network).slice(0, 40)}`)
    if (init.uploadRelay != null) checkRelay(init.uploadRelay)
    this.network = init.network
    this.suiClient = init.suiClient ?? new SuiGrpcClient({ network: init.network, baseUrl: init.suiUrl })
    this.client = init.client ?? new OffThreadWalrusClient({
      network: init.network,
      suiClient: this.suiClient,
      ...(init.uploadRelay != null ? { uploadRelay: { host: init.uploadRelay.host.replace(/\/+$/, ''), sendTip: init.uploadRelay.sendTip ?? null } } : {})
    })
    if (init.signer != null) this.signer = init.signer
    if (init.onPaid != null) this.onPaid = init.onPaid
  }

  /** Ends the threads a write computes its blob's metadata on (they end by themselves when idle, and hold no process open). */
  async close (): Promise<void> {
    if (this.client instanceof OffThreadWalrusClient) await this.client.close()
  }

  /** The key the SDK signs a paid write with: one transaction of the key at a time, each told of what it cost when anyone listens. */
  private paying (signer: Signer, kind: PaymentKind, signal?: AbortSignal): Signer {
    return new PayingSigner(signer, kind, this.onPaid, signal)
  }

  /** The node's address: it pays for writes and owns their Blob objects. */
  get address (): string | undefined {
    return this.signer?.toSuiAddress()
  }

  /** The blob ID Walrus will give these bytes, computed locally by the SDK's own encoder. */
  async blobIdOf (bytes: Uint8Array, nShards: number): Promise<BlobId> {
    const { blobId } = await this.client.computeBlobMetadata({ bytes, numShards: nShards })
    return parseBlobId(blobId)
  }

  /** The encoded size and the WAL a write of `size` bytes for `epochs` costs at today's prices, read from the Walrus system state. */
  async storageCostOf (size: number, epochs: number): Promise<StorageCost> {
    if (!Number.isSafeInteger(size) || size < 0 || size > MAX_ENCODE_BYTES) throw new WalrusError(`blob size ${size} is not between 0 and ${MAX_ENCODE_BYTES} bytes`)
    checkEpochs(epochs)
    try {
      const { committee } = await this.client.systemState()
      const { storageCost, writeCost } = await this.client.storageCost(size, epochs)
      const cost: StorageCost = { encodedSize: encodedBlobLength(size, committee.n_shards), storageCostWal: storageCost, writeCostWal: writeCost }
      const gas = await this.registrationGas(size, epochs)
      return gas != null ? { ...cost, registerGasMist: gas } : cost
    } catch (err) {
      throw this.translate(err, 'reading Walrus storage prices')
    }
  }

  /** Simulates the registration of a blob of this size (with a made-up blob ID, which does not change its gas) without paying for it. */
  private async registrationGas (size: number, epochs: number): Promise<bigint | undefined> {
    if (this.signer == null) return undefined
    const owner = this.signer.toSuiAddress()
    const transaction = this.client.registerBlobTransaction({ size, epochs, blobId: blobIdFromBytes(new Uint8Array(32)), rootHash: new Uint8Array(32), deletable: true, owner })
    transaction.setSender(owner)
    try {
      const result = await this.suiClient.simulateTransaction({ transaction, include: { effects: true } })
      if (result.$kind !== 'Transaction') {
        log('the registration would fail, so its gas is not estimated: %s', result.FailedTransaction.status.error?.message)
        return undefined
      }
      const used = result.Transaction.effects?.gasUsed
      if (used == null) return undefined
      const net = BigInt(used.computationCost) + BigInt(used.storageCost) - BigInt(used.storageRebate)
      return net > 0n ? net : 0n
    } catch (err) {
      log('the registration could not be simulated, so its gas is not estimated: %e', err)
      return undefined
    }
  }

  async putFile (path: string, options: PutOptions = {}): Promise<StoredBlob> {
    // Sized before it is read: the SDK encodes a blob whole, in memory.
    const { size } = await stat(path)
    if (size > MAX_ENCODE_BYTES) throw new WalrusError(`blob of ${size} bytes is over the SDK store's limit of ${MAX_ENCODE_BYTES} bytes`)
    return this.putBytes(new Uint8Array(await readFile(path)), options)
  }

  async putBytes (blob: Uint8Array, options: PutOptions = {}): Promise<StoredBlob> {
    if (this.signer == null) throw new WalrusError('writing through the Walrus SDK needs a signer (the node key)')
    if (options.share === true) throw new WalrusError('the Walrus SDK store does not write shared blobs: write through a publisher (share=true)')
    const epochs = options.epochs ?? 1
    checkEpochs(epochs)
    if (blob.byteLength > MAX_ENCODE_BYTES) throw new WalrusError(`blob of ${blob.byteLength} bytes is over the SDK store's limit of ${MAX_ENCODE_BYTES} bytes`)
    try {
      const { blobId, blobObject } = await this.client.writeBlob({
        blob,
        deletable: options.permanent !== true,
        epochs,
        signer: this.paying(this.signer, 'blob-write', options.signal),
        // Only the owner can extend the blob's storage or write its attributes (the ledger's entries): it stays with the node.
        owner: options.sendObjectTo ?? this.signer.toSuiAddress(),
        ...(options.signal != null ? { signal: options.signal } : {})
      })
      return { blobId: parseBlobId(blobId), status: 'newlyCreated', objectId: blobObject.id, size: Number(blobObject.size), endEpoch: blobObject.storage.end_epoch }
    } catch (err) {
      throw this.translate(err, 'writing blob through the Walrus SDK')
    }
  }

  /** The committee's epoch, from the Walrus system object. */
  async epoch (_options: { signal?: AbortSignal } = {}): Promise<EpochInfo> {
    try {
      const { committee } = await this.client.systemState()
      return { epoch: committee.epoch }
    } catch (err) {
      throw this.translate(err, 'reading the Walrus epoch')
    }
  }

  /**
   * A blob's end epoch and owner from its Blob object on Sui: the object named
   * by `objectId` when known (a pin or a registry entry found elsewhere), else
   * the node's own Blob objects of that blob, the one that lasts longest.
   * A blob the node neither owns nor has an object ID for cannot be found
   * without an index of every Blob: that is an error, not "unknown to Walrus".
   */
  async lifetime (blobId: string, options: LifetimeOptions = {}): Promise<BlobLifetime | undefined> {
    const id = parseBlobId(blobId)
    const signal = options.signal
    try {
      const { epoch } = await this.epoch()
      if (options.objectId != null) {
        const { object } = await this.suiClient.getObject<{ content: true }>({ objectId: options.objectId, include: { content: true }, ...(signal != null ? { signal } : {}) })
        const life = lifetimeOfBlobObject(object, epoch)
        if (life.blobId !== id) throw new WalrusProtocolError(`object ${options.objectId} holds blob ${life.blobId}, not ${id}`)
        return life
      }
      const owner = this.address
      if (owner == null) throw new WalrusError(`the lifetime of blob ${id} needs its Blob object ID, or a node key that owns it`)
      const type = await this.client.getBlobType()
      let best: BlobLifetime | undefined
      let cursor: string | null = null
      for (let page = 0; page < MAX_OWNED_PAGES; page++) {
        signal?.throwIfAborted()
        const listed: { objects: Array<SuiClientTypes.Object<{ content: true }>>, hasNextPage: boolean, cursor: string | null } = await this.suiClient.listOwnedObjects<{ content: true }>({ owner, type, limit: OWNED_PAGE, cursor, include: { content: true }, ...(signal != null ? { signal } : {}) })
        for (const object of listed.objects) {
          const life = lifetimeOfBlobObject(object, epoch)
          if (life.blobId === id && (best == null || life.endEpoch > best.endEpoch)) best = life
        }
        if (!listed.hasNextPage || listed.cursor == null) break
        cursor = listed.cursor
      }
      if (best == null) throw new WalrusError(`no Blob object of ${owner} holds blob ${id}, and its object ID is not known: its lifetime cannot be read`)
      return best
    } catch (err) {
      throw this.translate(err, `reading the lifetime of blob ${id}`)
    }
  }

  /**
   * `system::extend_blob` on the Blob object through the SDK, paying WAL from
   * the node key, which must own it. The SDK is given the target end epoch,
   * not a count: it reads the Blob object's current end and buys only the
   * epochs still missing, so retrying an extension that went through buys
   * none (it still pays the gas of an empty transaction).
   */
  async extend (request: ExtendRequest, options: { signal?: AbortSignal } = {}): Promise<ExtendResult> {
    if (this.signer == null) throw new WalrusError('extending a blob through the Walrus SDK needs a signer (the node key)')
    if (request.objectId == null) throw new WalrusError(`extending blob ${request.blobId} through the SDK needs its Blob object ID`)
    if (request.shared === true) throw new WalrusError(`extending shared blob ${request.blobId} is not done through the SDK store: SharedBlob::extend is not in @mysten/walrus`)
    try {
      // Priced before it is paid, at this epoch's prices: the keeper's spending ceiling counts it.
      const epochs = request.endEpoch - request.currentEndEpoch
      const cost = request.size != null && epochs > 0 ? Number((await this.client.storageCost(request.size, epochs)).storageCost) : undefined
      await this.client.executeExtendBlobTransaction({ blobObjectId: request.objectId, endEpoch: request.endEpoch, signer: this.paying(this.signer, 'blob-extend', options.signal) })
      return { blobId: request.blobId, endEpoch: request.endEpoch, ...(cost != null ? { cost } : {}) }
    } catch (err) {
      throw this.translate(err, `extending blob ${request.blobId}`)
    }
  }

  async getToFile (blobId: string, path: string, options: GetOptions = {}): Promise<{ bytes: number }> {
    const bytes = await this.read(blobId, options.range, options.signal)
    await writeFileAtomic(path, bytes)
    options.onProgress?.({ type: 'walrus:read', blobId, bytes: bytes.length, total: bytes.length })
    return { bytes: bytes.length }
  }

  async readRange (blobId: string, range: ByteRange, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    return this.read(blobId, range, options.signal)
  }

  private async read (blobId: string, range: ByteRange | undefined, signal: AbortSignal | undefined): Promise<Uint8Array> {
    let bytes: Uint8Array
    try {
      // Storage nodes serve slivers, not byte ranges: the whole blob is decoded, then cut.
      bytes = await this.client.readBlob({ blobId: parseBlobId(blobId), ...(signal != null ? { signal } : {}) })
    } catch (err) {
      throw this.translate(err, `reading blob ${blobId} through the Walrus SDK`)
    }
    if (range == null) return bytes
    if (range.start < 0 || range.start > range.end || range.start >= bytes.length) {
      throw new WalrusError(`range ${range.start}-${range.end} is outside a blob of ${bytes.length} bytes`)
    }
    return bytes.subarray(range.start, Math.min(range.end + 1, bytes.length))
  }

  /**
   * The SDK's and the node's errors as herd's: short of WAL or of SUI become
   * the same named errors the ledger throws, naming the address to fund.
   */
  private translate (err: unknown, what: string): unknown {
    if (!(err instanceof Error) || err.name === 'AbortError' || err instanceof WalrusError || err instanceof RetryableError || err instanceof InsufficientFundsError) return err
    const address = this.address ?? 'the node address'
    const short = SHORT_OF_COIN.exec(err.message)
    if (short != null) {
      const [, coinType = '', , required = '0'] = short
      if (/^0x0*2::sui::SUI$/.test(coinType)) return new InsufficientGasError(address, this.network, err.message.slice(0, 300), { cause: err })
      return new InsufficientWalError(address, this.network, BigInt(required), { cause: err })
    }
    if (NO_GAS.test(err.message)) return new InsufficientGasError(address, this.network, err.message.slice(0, 300), { cause: err })
    if (err instanceof RetryableWalrusClientError) return new RetryableWalrusError(`${what}: ${err.message}`, { cause: err })
    return new WalrusError(`${what}: ${err.message}`, { cause: err })
  }
}

function checkEpochs (epochs: number): void {
  if (!Number.isInteger(epochs) || epochs < 1 || epochs > MAX_EPOCHS) throw new WalrusError(`epochs must be a whole number from 1 to ${MAX_EPOCHS}, not ${epochs}`)
}

function checkRelay (relay: { host: string, sendTip?: { max: number } }): void {
  let url: URL
  try {
    url = new URL(relay.host)
  } catch {
    throw new WalrusError(`upload relay host "${String(relay.host).slice(0, 200)}" is not a URL`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new WalrusError(`upload relay host ${url.origin} is not http(s)`)
  if (relay.sendTip != null && (!Number.isSafeInteger(relay.sendTip.max) || relay.sendTip.max < 0)) throw new WalrusError(`upload relay sendTip.max must be a whole number of MIST, not ${relay.sendTip.max}`)
}
