import { WalrusClient, type ComputeBlobMetadataOptions, type EncodingType } from '@mysten/walrus'
import { BlobIdComputer } from '../blob/blob-id-computer.js'

type BlobMetadataResult = Awaited<ReturnType<WalrusClient['computeBlobMetadata']>>

/**
 * The SDK's Walrus client, with a blob's metadata (its blob ID and root hash:
 * the RS2 encoding over every shard) computed on a worker thread. The SDK
 * computes it on the caller's thread for every write through an upload relay,
 * and at 1,000 shards that is about 1.7 s of CPU whatever the blob's size: a
 * node writing a proof bundle froze its event loop (gossip, chunk serving,
 * inference replies) for that long. Same encoder (`@mysten/walrus-wasm`), same
 * IDs. A write straight to the storage nodes still encodes its slivers on the
 * caller's thread (`encodeBlob`): see docs/walrus.md.
 */
export class OffThreadWalrusClient extends WalrusClient {
  private readonly computers = new Map<number, BlobIdComputer>()

  override async computeBlobMetadata ({ bytes, numShards, nonce }: ComputeBlobMetadataOptions): Promise<BlobMetadataResult> {
    const shards = typeof numShards === 'number' ? numShards : (await this.systemState()).committee.n_shards
    let computer = this.computers.get(shards)
    if (computer == null) {
      computer = new BlobIdComputer({ nShards: shards })
      this.computers.set(shards, computer)
    }
    const metadata = await computer.computeBytes(bytes)
    let digest: Promise<Uint8Array> | undefined
    return {
      rootHash: Uint8Array.from(Buffer.from(metadata.rootHash, 'hex')),
      blobId: metadata.blobId,
      metadata: { encodingType: metadata.encodingType as EncodingType, unencodedLength: BigInt(metadata.size) },
      nonce: nonce ?? crypto.getRandomValues(new Uint8Array(32)),
      // As the SDK's: the relay's tip and auth payload hash the blob, once, when asked.
      blobDigest: async () => {
        digest ??= crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>).then(hash => new Uint8Array(hash))
        return digest
      }
    }
  }

  /** Ends the encoder threads; a later write starts them again. */
  async close (): Promise<void> {
    const computers = [...this.computers.values()]
    this.computers.clear()
    await Promise.all(computers.map(async computer => { await computer.stop() }))
  }
}
