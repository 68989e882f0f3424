import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { ChunkVerificationError, InvalidArgumentError } from './errors.js'

export const DEFAULT_CHUNK_SIZE = 1024 * 1024
export const MIN_CHUNK_SIZE = 1024
export const MAX_CHUNK_SIZE = 64 * 1024 * 1024
export const HASH_BYTES = 32

// Domain separation between leaves and inner nodes keeps an inner node from passing as a chunk.
const LEAF_PREFIX = Buffer.from([0])
const NODE_PREFIX = Buffer.from([1])

export interface ChunkTree {
  chunkSize: number
  size: number
  /** SHA-256 of each chunk with the leaf prefix, in order. */
  leaves: Uint8Array[]
  root: Uint8Array
}

/** The path from one chunk's leaf to the root: siblings from the bottom up. */
export interface InclusionProof {
  index: number
  leafCount: number
  siblings: Uint8Array[]
}

export function assertChunkSize (chunkSize: number): void {
  if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw new InvalidArgumentError(`chunk size must be an integer from ${MIN_CHUNK_SIZE} to ${MAX_CHUNK_SIZE} bytes, got ${chunkSize}`)
  }
}

/** An empty blob has one empty chunk, so every blob has a root. */
export function chunkCount (size: number, chunkSize: number): number {
  return Math.max(1, Math.ceil(size / chunkSize))
}

/** The byte range `[start, end)` of chunk `index`. */
export function chunkRange (index: number, size: number, chunkSize: number): { start: number, end: number } {
  if (!Number.isInteger(index) || index < 0 || index >= chunkCount(size, chunkSize)) {
    throw new InvalidArgumentError(`chunk index ${index} out of range for a blob of ${size} bytes`)
  }
  const start = index * chunkSize
  return { start, end: Math.min(size, start + chunkSize) }
}

/** A chunk's leaf; the chunk may come in pieces (as it arrived from a peer). */
export function hashLeaf (chunk: Uint8Array | Iterable<Uint8Array>): Uint8Array {
  const hash = createHash('sha256').update(LEAF_PREFIX)
  if (chunk instanceof Uint8Array) hash.update(chunk)
  else for (const piece of chunk) hash.update(piece)
  return hash.digest()
}

function hashNode (left: Uint8Array, right: Uint8Array): Uint8Array {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest()
}

/** The levels of the tree from the leaves up; an odd last node is carried up unchanged. */
function levels (leaves: Uint8Array[]): Uint8Array[][] {
  const out: Uint8Array[][] = [leaves]
  let level = leaves
  while (level.length > 1) {
    const next: Uint8Array[] = []
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as Uint8Array
      const right = level[i + 1]
      next.push(right == null ? left : hashNode(left, right))
    }
    out.push(next)
    level = next
  }
  return out
}

export function rootOfLeaves (leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) throw new InvalidArgumentError('a chunk tree has at least one leaf')
  const all = levels(leaves)
  return (all[all.length - 1] as Uint8Array[])[0] as Uint8Array
}

/** The chunk hashes as stored on Walrus beside a model: the 32-byte leaves concatenated in order, nothing else. */
export function encodeChunkHashes (leaves: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(leaves.length * HASH_BYTES)
  leaves.forEach((leaf, i) => {
    if (leaf.length !== HASH_BYTES) throw new InvalidArgumentError(`leaf ${i} is ${leaf.length} bytes, not ${HASH_BYTES}`)
    out.set(leaf, i * HASH_BYTES)
  })
  return out
}

/** What a registry entry says about a blob's chunk tree, enough to check its chunk hashes. */
export interface ChunkTreeDescriptor {
  size: number
  chunkSize: number
  /** The chunk root, as bytes or 64 hex digits. */
  chunkRoot: Uint8Array | string
}

/**
 * Splits chunk-hash bytes into leaves, accepting them only if there is exactly
 * one 32-byte hash per chunk of the described blob and they give its chunk root.
 */
export function decodeChunkHashes (bytes: Uint8Array, descriptor: ChunkTreeDescriptor): Uint8Array[] {
  const { size, chunkSize } = descriptor
  if (!Number.isSafeInteger(size) || size < 0) throw new InvalidArgumentError(`blob size must be a non-negative integer, got ${size}`)
  assertChunkSize(chunkSize)
  const root = typeof descriptor.chunkRoot === 'string' ? hashFromHex(descriptor.chunkRoot) : descriptor.chunkRoot
  if (root.length !== HASH_BYTES) throw new InvalidArgumentError(`chunk root must be ${HASH_BYTES} bytes, got ${root.length}`)
  const count = chunkCount(size, chunkSize)
  if (bytes.length !== count * HASH_BYTES) {
    throw new ChunkVerificationError(`chunk hashes are ${bytes.length} bytes; a blob of ${size} bytes in chunks of ${chunkSize} has ${count} chunk${count === 1 ? '' : 's'}, so ${count * HASH_BYTES} bytes (${HASH_BYTES} per chunk)`)
  }
  const leaves = Array.from({ length: count }, (_, i) => new Uint8Array(bytes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES)))
  const computed = rootOfLeaves(leaves)
  if (!Buffer.from(computed).equals(root)) {
    throw new ChunkVerificationError(`chunk hashes give root ${toHex(computed)}, not the registered chunk root ${toHex(root)}`)
  }
  return leaves
}

/** Hashes a byte stream chunk by chunk, holding at most one chunk in memory. */
export class ChunkTreeBuilder {
  readonly chunkSize: number
  private readonly leaves: Uint8Array[] = []
  private hash = createHash('sha256').update(LEAF_PREFIX)
  private filled = 0
  private size = 0

  constructor (chunkSize: number = DEFAULT_CHUNK_SIZE) {
    assertChunkSize(chunkSize)
    this.chunkSize = chunkSize
  }

  update (bytes: Uint8Array): this {
    let offset = 0
    while (offset < bytes.length) {
      const take = Math.min(this.chunkSize - this.filled, bytes.length - offset)
      this.hash.update(bytes.subarray(offset, offset + take))
      this.filled += take
      offset += take
      if (this.filled === this.chunkSize) this.closeChunk()
    }
    this.size += bytes.length
    return this
  }

  digest (): ChunkTree {
    if (this.filled > 0 || this.leaves.length === 0) this.closeChunk()
    return { chunkSize: this.chunkSize, size: this.size, leaves: this.leaves, root: rootOfLeaves(this.leaves) }
  }

  private closeChunk (): void {
    this.leaves.push(this.hash.digest())
    this.hash = createHash('sha256').update(LEAF_PREFIX)
    this.filled = 0
  }
}

export function chunkTreeOfBytes (bytes: Uint8Array, chunkSize: number = DEFAULT_CHUNK_SIZE): ChunkTree {
  return new ChunkTreeBuilder(chunkSize).update(bytes).digest()
}

/** Streams a file from disk, so a file larger than memory works. */
export async function chunkTreeOfFile (path: string, options: { chunkSize?: number, signal?: AbortSignal } = {}): Promise<ChunkTree> {
  const builder = new ChunkTreeBuilder(options.chunkSize ?? DEFAULT_CHUNK_SIZE)
  const stream = createReadStream(path, { highWaterMark: 1024 * 1024, signal: options.signal })
  for await (const piece of stream) builder.update(piece as Buffer)
  return builder.digest()
}

export function inclusionProof (tree: ChunkTree, index: number): InclusionProof {
  const leafCount = tree.leaves.length
  if (!Number.isInteger(index) || index < 0 || index >= leafCount) {
    throw new InvalidArgumentError(`chunk index ${index} out of range 0..${leafCount - 1}`)
  }
  const siblings: Uint8Array[] = []
  let position = index
  for (const level of levels(tree.leaves).slice(0, -1)) {
    const sibling = level[position ^ 1]
    if (sibling != null) siblings.push(sibling)
    position >>= 1
  }
  return { index, leafCount, siblings }
}

/** Recomputes the root from a chunk's leaf and its proof; the caller compares it with a trusted root. */
export function rootFromProof (leaf: Uint8Array, proof: InclusionProof): Uint8Array {
  const { leafCount } = proof
  if (!Number.isInteger(leafCount) || leafCount < 1) throw new ChunkVerificationError(`invalid leaf count ${leafCount}`)
  if (!Number.isInteger(proof.index) || proof.index < 0 || proof.index >= leafCount) {
    throw new ChunkVerificationError(`proof index ${proof.index} out of range for ${leafCount} leaves`)
  }
  let hash = leaf
  let position = proof.index
  let width = leafCount
  let used = 0
  while (width > 1) {
    const isLastOdd = position === width - 1 && width % 2 === 1
    if (!isLastOdd) {
      const sibling = proof.siblings[used++]
      if (sibling?.length !== HASH_BYTES) throw new ChunkVerificationError('proof is too short or has a malformed hash')
      hash = position % 2 === 0 ? hashNode(hash, sibling) : hashNode(sibling, hash)
    }
    position >>= 1
    width = Math.ceil(width / 2)
  }
  if (used !== proof.siblings.length) throw new ChunkVerificationError('proof has more siblings than the tree has levels')
  return hash
}

export function verifyChunk (chunk: Uint8Array, proof: InclusionProof, root: Uint8Array): boolean {
  try {
    return Buffer.from(rootFromProof(hashLeaf(chunk), proof)).equals(root)
  } catch (err) {
    if (err instanceof ChunkVerificationError) return false
    throw err
  }
}

export function toHex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** Parses a 32-byte hash written as 64 hex digits (an optional 0x prefix is accepted). */
export function hashFromHex (hex: string): Uint8Array {
  const digits = hex.startsWith('0x') ? hex.slice(2) : hex
  if (!/^[0-9a-fA-F]{64}$/.test(digits)) throw new InvalidArgumentError('hash must be 64 hex digits')
  return new Uint8Array(Buffer.from(digits, 'hex'))
}
