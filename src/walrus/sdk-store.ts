import { readFile, stat } from 'node:fs/promises'
import { SuiGrpcClient } from '@mysten/sui/grpc'
import type { Signer } from '@mysten/sui/cryptography'
import { WalrusClient, RetryableWalrusClientError, type UploadRelayConfig } from '@mysten/walrus'
import { writeFileAtomic } from '../blob/atomic-file.js'
import { parseBlobId, type BlobId } from '../blob/blob-id.js'
import { MAX_ENCODE_BYTES } from '../blob/blob-id-computer.js'
import { RetryableWalrusError, WalrusError } from './errors.js'
import type { ByteRange, GetOptions, PutOptions, StoredBlob, WalrusStore } from './types.js'

export type WalrusNetwork = 'mainnet' | 'testnet'

export interface WalrusSdkStoreInit {
  network: WalrusNetwork
  /** Sui full node gRPC-web URL. */
  suiUrl: string
  /** Pays gas and WAL and owns the Blob objects: the node's own key. */
  signer?: Signer
  /** An upload relay takes the encoding and the ~2,200 storage-node requests of a write off this machine. */
  uploadRelay?: UploadRelayConfig
  /** Replaces the client built from the fields above (for tests and custom transports). */
  client?: WalrusClient
}

function translate (err: unknown, what: string): unknown {
  if (err instanceof RetryableWalrusClientError) return new RetryableWalrusError(`${what}: ${err.message}`, { cause: err })
  if (err instanceof Error && err.name !== 'AbortError' && !(err instanceof WalrusError)) return new WalrusError(`${what}: ${err.message}`, { cause: err })
  return err
}

/**
 * Writes and reads blobs with `@mysten/walrus`, talking to storage nodes (or an
 * upload relay) and signing with the operator's own Sui key: for operators who
 * do not use a publisher. The SDK takes whole blobs in memory, so blobs are
 * capped at the encoder's limit here. Not tried against a live network from
 * the machines herd is built on; see docs/walrus.md.
 */
export class WalrusSdkStore implements WalrusStore {
  readonly client: WalrusClient
  private readonly signer?: Signer

  constructor (init: WalrusSdkStoreInit) {
    this.client = init.client ?? new WalrusClient({
      network: init.network,
      suiClient: new SuiGrpcClient({ network: init.network, baseUrl: init.suiUrl }),
      ...(init.uploadRelay != null ? { uploadRelay: init.uploadRelay } : {})
    })
    if (init.signer != null) this.signer = init.signer
  }

  /** The blob ID Walrus will give these bytes, computed locally by the SDK's own encoder. */
  async blobIdOf (bytes: Uint8Array, nShards: number): Promise<BlobId> {
    const { blobId } = await this.client.computeBlobMetadata({ bytes, numShards: nShards })
    return parseBlobId(blobId)
  }

  async putFile (path: string, options: PutOptions = {}): Promise<StoredBlob> {
    if (this.signer == null) throw new WalrusError('writing through the Walrus SDK needs a signer (the node key)')
    const { size } = await stat(path)
    if (size > MAX_ENCODE_BYTES) throw new WalrusError(`blob of ${size} bytes is over the SDK store's limit of ${MAX_ENCODE_BYTES} bytes`)
    const blob = new Uint8Array(await readFile(path))
    try {
      const { blobId, blobObject } = await this.client.writeBlob({
        blob,
        deletable: options.permanent !== true,
        epochs: options.epochs ?? 1,
        signer: this.signer,
        ...(options.sendObjectTo != null ? { owner: options.sendObjectTo } : {}),
        ...(options.signal != null ? { signal: options.signal } : {})
      })
      return { blobId: parseBlobId(blobId), status: 'newlyCreated', objectId: blobObject.id, size: Number(blobObject.size), endEpoch: blobObject.storage.end_epoch }
    } catch (err) {
      throw translate(err, 'writing blob through the Walrus SDK')
    }
  }

  async getToFile (blobId: string, path: string, options: GetOptions = {}): Promise<{ bytes: number }> {
    const bytes = await this.read(blobId, options.range, options.signal)
    await writeFileAtomic(path, bytes)
    options.onProgress?.({ bytes: bytes.length, total: bytes.length })
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
      throw translate(err, `reading blob ${blobId} through the Walrus SDK`)
    }
    if (range == null) return bytes
    if (range.start < 0 || range.start > range.end || range.start >= bytes.length) {
      throw new WalrusError(`range ${range.start}-${range.end} is outside a blob of ${bytes.length} bytes`)
    }
    return bytes.subarray(range.start, Math.min(range.end + 1, bytes.length))
  }
}
