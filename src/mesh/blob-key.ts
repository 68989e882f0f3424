import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { blobIdToBytes } from '../blob/blob-id.js'

/** The raw multicodec: the DHT key names bytes, not a structure. */
const RAW_CODEC = 0x55

/**
 * The DHT key of a blob: a CIDv1 whose identity multihash is the blob ID
 * itself, so a provider record can be mapped back to the blob without a table.
 */
export function blobIdToCid (blobId: string): CID {
  return CID.createV1(RAW_CODEC, identity.digest(blobIdToBytes(blobId)))
}
