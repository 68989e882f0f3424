import { WalrusClient, WalrusClientError, type ComputeBlobMetadataOptions, type EncodingType } from '@mysten/walrus'
import { BlobIdComputer } from '../blob/blob-id-computer.js'
import { blobIdToBytes } from '../blob/blob-id.js'

type BlobMetadataResult = Awaited<ReturnType<WalrusClient['computeBlobMetadata']>>
type EncodedBlobResult = Awaited<ReturnType<WalrusClient['encodeBlob']>>
type SliversForNode = EncodedBlobResult['sliversByNode'][number]

/**
 * The shard a sliver pair goes to: pairs are rotated by the blob ID read as
 * a big-endian integer, modulo the shard count (the Walrus encoding spec).
 */
export function shardOfPair (pairIndex: number, blobId: Uint8Array, nShards: number): number {
  let offset = 0
  for (const byte of blobId) offset = (offset * 256 + byte) % nShards
  return (pairIndex + offset) % nShards
}

/**
 * The SDK's Walrus client, with a blob's metadata (its blob ID and root hash:
 * the RS2 encoding over every shard) computed on a worker thread. The SDK
 * computes it on the caller's thread for every write through an upload relay,
 * and at 1,000 shards that is about 1.7 s of CPU whatever the blob's size: a
 * node writing a proof bundle froze its event loop (gossip, chunk serving,
 * inference replies) for that long. Same encoder (`@mysten/walrus-wasm`), same
 * IDs. A write straight to the storage nodes encodes its slivers there too
 * (`encodeBlob`): the SDK did it on the caller's thread, 1.5-4.7 s of CPU for
 * a proof bundle at 1,000 shards.
 */
export class OffThreadWalrusClient extends WalrusClient {
  private readonly computers = new Map<number, BlobIdComputer>()

  private computerFor (nShards: number): BlobIdComputer {
    let computer = this.computers.get(nShards)
    if (computer == null) {
      computer = new BlobIdComputer({ nShards })
      this.computers.set(nShards, computer)
    }
    return computer
  }

  /**
   * The SDK's `encodeBlob`, with the encoding on a worker thread: the
   * slivers of each pair go to the committee member holding the pair's shard,
   * members in the order of the active committee (as `writeEncodedBlobToNodes`
   * addresses them).
   */
  override async encodeBlob (blob: Uint8Array): Promise<EncodedBlobResult> {
    const [systemState, stakingState] = await Promise.all([this.systemState(), this.stakingState()])
    const nShards = systemState.committee.n_shards
    const encoded = await this.computerFor(nShards).encodeBytes(blob)
    const memberOfShard = new Map<number, number>()
    stakingState.committee[0].contents.forEach((member, index) => { for (const shard of member.value) memberOfShard.set(shard, index) })
    const sliversByNode: SliversForNode[] = Array.from({ length: systemState.committee.members.length }, () => ({ primary: [], secondary: [] }))
    const blobIdBytes = blobIdToBytes(encoded.blobId)
    for (let pair = 0; pair < encoded.primary.length; pair++) {
      const shardIndex = shardOfPair(pair, blobIdBytes, nShards)
      const member = sliversByNode[memberOfShard.get(shardIndex) ?? -1]
      if (member == null) throw new WalrusClientError(`Node for shard index ${shardIndex} not found`)
      member.primary.push({ sliverIndex: pair, sliverPairIndex: pair, shardIndex, sliver: encoded.primary[pair] as Uint8Array })
      member.secondary.push({ sliverIndex: pair, sliverPairIndex: pair, shardIndex, sliver: encoded.secondary[pair] as Uint8Array })
    }
    return { blobId: encoded.blobId, metadata: encoded.metadata as EncodedBlobResult['metadata'], rootHash: encoded.rootHash, sliversByNode }
  }

  override async computeBlobMetadata ({ bytes, numShards, nonce }: ComputeBlobMetadataOptions): Promise<BlobMetadataResult> {
    const shards = typeof numShards === 'number' ? numShards : (await this.systemState()).committee.n_shards
    const metadata = await this.computerFor(shards).computeBytes(bytes)
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
