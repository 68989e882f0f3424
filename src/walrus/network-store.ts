import { logger } from '@libp2p/logger'
import { WalrusError } from './errors.js'
import type { BlobLifetime, ByteRange, EpochInfo, ExtendRequest, ExtendResult, GetOptions, LifetimeOptions, PutOptions, ReadRangeOptions, StoredBlob, WalrusStore } from './types.js'

const log = logger('herd:walrus:network-store')

/** An aggregator: the HTTP client's read half. */
export interface AggregatorReader extends Pick<WalrusStore, 'getToFile' | 'readRange' | 'epoch' | 'lifetime'> {
  readonly aggregator?: URL
  close?(): Promise<void>
}

export interface BlobWriter extends Pick<WalrusStore, 'putFile' | 'putBytes' | 'extend'> {
  readonly publisher?: URL
  close?(): Promise<void>
}

export interface NetworkStoreInit {
  /** Read in this order: the next is asked when one fails. */
  readers: AggregatorReader[]
  writer: BlobWriter
  /** How the writer pays: a publisher (which sends the Blob object on), or the SDK with the node key. */
  writeMode: 'publisher' | 'sdk'
  /** Storage epochs of a write that does not name its own. */
  epochs: number
  /** The node's address: a publisher sends the Blob objects it creates there, so the node can extend them and write their attributes. */
  owner?: string
  /**
   * Walrus on Sui (testnet and mainnet): the epoch from the system object, a
   * blob's lifetime from its Blob object, and `extend_blob` paid from the
   * node key. Public aggregators say neither the epoch nor lifetimes, and a
   * publisher does not extend, whichever way the node writes.
   */
  onChain?: Pick<WalrusStore, 'epoch' | 'lifetime' | 'extend'>
}

const isAbort = (err: unknown, signal?: AbortSignal): boolean => signal?.aborted === true || (err as Error)?.name === 'AbortError'

/**
 * A network's Walrus as the node uses it: reads from one aggregator or
 * several in turn (a CDN in front of one may answer 404 for a while after an
 * upload; another may be down), writes through a publisher or the SDK, each
 * write with the profile's epochs and owned by the node.
 */
export class NetworkWalrusStore implements WalrusStore {
  readonly readers: AggregatorReader[]
  readonly writer: BlobWriter
  readonly writeMode: 'publisher' | 'sdk'
  readonly epochs: number
  readonly onChain?: Pick<WalrusStore, 'epoch' | 'lifetime' | 'extend'>
  private readonly owner?: string

  constructor (init: NetworkStoreInit) {
    if (init.readers.length === 0) throw new RangeError('a network store needs at least one aggregator')
    this.readers = init.readers
    this.writer = init.writer
    this.writeMode = init.writeMode
    this.epochs = init.epochs
    if (init.owner != null) this.owner = init.owner
    if (init.onChain != null) this.onChain = init.onChain
  }

  /** The first aggregator, to which the API relays blobs that have no registry entry. */
  get aggregator (): URL | undefined { return this.readers[0]?.aggregator }
  get publisher (): URL | undefined { return this.writer.publisher }

  async putFile (path: string, options: PutOptions = {}): Promise<StoredBlob> {
    return this.writer.putFile(path, this.writeOptions(options))
  }

  async putBytes (bytes: Uint8Array, options: PutOptions = {}): Promise<StoredBlob> {
    return this.writer.putBytes(bytes, this.writeOptions(options))
  }

  /** The profile's epochs, and the node as the owner of what a publisher creates. */
  private writeOptions (options: PutOptions): PutOptions {
    // A shared blob belongs to no address; anyone may extend it.
    const owner = this.writeMode === 'publisher' && this.owner != null && options.share !== true ? { sendObjectTo: this.owner } : {}
    return { epochs: this.epochs, ...owner, ...options }
  }

  async getToFile (blobId: string, path: string, options: GetOptions = {}): Promise<{ bytes: number }> {
    return this.inTurn(blobId, options.signal, async reader => reader.getToFile(blobId, path, options))
  }

  async readRange (blobId: string, range: ByteRange, options: ReadRangeOptions = {}): Promise<Uint8Array> {
    return this.inTurn(blobId, options.signal, async reader => reader.readRange(blobId, range, options))
  }

  /** From Sui when the store reads it, else from the first aggregator that answers (the local Walrus says). */
  async epoch (options: { signal?: AbortSignal } = {}): Promise<EpochInfo> {
    if (this.onChain?.epoch != null) return this.onChain.epoch(options)
    return this.inTurn('epoch', options.signal, async reader => {
      if (reader.epoch == null) throw new WalrusError(`aggregator ${reader.aggregator?.href ?? ''} does not say the epoch`)
      return reader.epoch(options)
    })
  }

  /** From the blob's Blob object on Sui when the store reads it, else from the aggregators (the local Walrus says). */
  async lifetime (blobId: string, options: LifetimeOptions = {}): Promise<BlobLifetime | undefined> {
    if (this.onChain?.lifetime != null) return this.onChain.lifetime(blobId, options)
    return this.inTurn(blobId, options.signal, async reader => {
      if (reader.lifetime == null) throw new WalrusError(`aggregator ${reader.aggregator?.href ?? ''} does not say blob lifetimes`)
      return reader.lifetime(blobId, options)
    })
  }

  /** On Sui, the node's Blob objects are its own however they were written (a publisher sends them to its address): it extends them itself. */
  async extend (request: ExtendRequest, options: { signal?: AbortSignal } = {}): Promise<ExtendResult> {
    const extender = this.onChain?.extend != null ? this.onChain : this.writer
    if (extender.extend == null) throw new WalrusError('this Walrus writer cannot extend blobs')
    return extender.extend(request, options)
  }

  async close (): Promise<void> {
    await Promise.all([...this.readers.map(async r => r.close?.()), this.writer.close?.()])
  }

  /** Each aggregator's own client has retried already; a failure here moves on to the next. */
  private async inTurn<T> (blobId: string, signal: AbortSignal | undefined, read: (reader: AggregatorReader) => Promise<T>): Promise<T> {
    let notFound: unknown
    let failure: unknown
    for (const reader of this.readers) {
      try {
        return await read(reader)
      } catch (err) {
        if (isAbort(err, signal)) throw err
        if ((err as Error).name === 'BlobNotFoundError') notFound ??= err
        else failure = err
        if (this.readers.length > 1) log('aggregator %s failed on %s, trying the next - %e', reader.aggregator?.href, blobId, err)
      }
    }
    // A blob some aggregator lacks but another could not be asked about is not known to be missing.
    throw failure ?? notFound
  }
}
