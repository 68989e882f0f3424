/**
 * The size Walrus stores and charges for a blob under RS2 encoding: the
 * slivers of every shard plus each shard's copy of the metadata (two hashes
 * per shard and the blob ID). `@mysten/walrus` computes the same thing but
 * does not export it; these are its formulas (utils `encodedBlobLength`),
 * which follow the Walrus encoding spec.
 */
const DIGEST_BYTES = 32
const BLOB_ID_BYTES = 32
/** Walrus storage is bought in units of 1 MiB. */
export const BYTES_PER_STORAGE_UNIT = 1024 * 1024

export function encodedBlobLength (size: number, nShards: number): number {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`blob size ${size} is not a byte count`)
  if (!Number.isInteger(nShards) || nShards < 4 || nShards > 65_535) throw new RangeError(`${nShards} is not a Walrus shard count`)
  const maxFaulty = Math.floor((nShards - 1) / 3)
  const primary = nShards - 2 * maxFaulty
  const secondary = nShards - maxFaulty
  let symbolSize = Math.floor((Math.max(size, 1) - 1) / (primary * secondary)) + 1
  // RS2 symbols are an even number of bytes.
  if (symbolSize % 2 === 1) symbolSize += 1
  return nShards * (nShards * DIGEST_BYTES * 2 + BLOB_ID_BYTES) + (primary + secondary) * symbolSize * nShards
}

export function storageUnits (encodedSize: number): number {
  return Math.ceil(encodedSize / BYTES_PER_STORAGE_UNIT)
}
