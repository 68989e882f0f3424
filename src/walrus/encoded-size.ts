import { BLOB_ID_BYTES } from '../blob/blob-id.js'
import { rs2Shape } from '../blob/sliver-sizes.js'

/**
 * The size Walrus stores and charges for a blob under RS2 encoding: the
 * slivers of every shard plus each shard's copy of the metadata (two hashes
 * per shard and the blob ID). `@mysten/walrus` computes the same thing but
 * does not export it; these are its formulas (utils `encodedBlobLength`),
 * which follow the Walrus encoding spec.
 */
const DIGEST_BYTES = 32
/** Walrus storage is bought in units of 1 MiB. */
export const BYTES_PER_STORAGE_UNIT = 1024 * 1024

export function encodedBlobLength (size: number, nShards: number): number {
  const { primarySymbols, secondarySymbols, symbolSize } = rs2Shape(size, nShards)
  return nShards * (nShards * DIGEST_BYTES * 2 + BLOB_ID_BYTES) + (primarySymbols + secondarySymbols) * symbolSize * nShards
}

export function storageUnits (encodedSize: number): number {
  return Math.ceil(encodedSize / BYTES_PER_STORAGE_UNIT)
}
