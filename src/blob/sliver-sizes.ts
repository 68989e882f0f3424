import { encodingLength } from 'uint8-varint'

/**
 * RS2's shape for a blob (the Walrus encoding spec): with f = ⌊(n − 1) / 3⌋
 * faulty shards tolerated among n, a blob is laid out as (n − 2f) × (n − f)
 * source symbols of one even size, a primary sliver holding n − f of them
 * and a secondary sliver n − 2f.
 */
export interface Rs2Shape {
  primarySymbols: number
  secondarySymbols: number
  symbolSize: number
}

/** The source symbols of a primary and of a secondary sliver's worth, for a shard count. */
export function sourceSymbols (nShards: number): { primarySymbols: number, secondarySymbols: number } {
  const maxFaulty = Math.floor((nShards - 1) / 3)
  return { primarySymbols: nShards - 2 * maxFaulty, secondarySymbols: nShards - maxFaulty }
}

export function rs2Shape (size: number, nShards: number): Rs2Shape {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`blob size ${size} is not a byte count`)
  if (!Number.isInteger(nShards) || nShards < 4 || nShards > 65_535) throw new RangeError(`${nShards} is not a Walrus shard count`)
  const { primarySymbols, secondarySymbols } = sourceSymbols(nShards)
  let symbolSize = Math.floor((Math.max(size, 1) - 1) / (primarySymbols * secondarySymbols)) + 1
  // RS2 symbols are an even number of bytes.
  if (symbolSize % 2 === 1) symbolSize += 1
  return { primarySymbols, secondarySymbols, symbolSize }
}

/**
 * The bytes of one primary and one secondary sliver of a blob as BCS
 * `SliverData` (its symbols as a vector<u8>, then the symbol size and the
 * sliver's index, two u16s): the buffers the encoder writes each pair into.
 */
export function sliverBufferBytes (size: number, nShards: number): { primary: number, secondary: number } {
  const { primarySymbols, secondarySymbols, symbolSize } = rs2Shape(size, nShards)
  const bcsBytes = (symbols: number): number => encodingLength(symbols * symbolSize) + symbols * symbolSize + 2 + 2
  return { primary: bcsBytes(secondarySymbols), secondary: bcsBytes(primarySymbols) }
}
