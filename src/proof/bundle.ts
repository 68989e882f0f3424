import { decodeUint8Array, encodeUint8Array, encodingLength } from 'uint8-varint'
import { hashLeaf, inclusionProof, rootFromProof, rootOfLeaves, type InclusionProof } from '../blob/chunk-tree.js'
import { Bundle } from './pb/proof.js'
import { ProofFormatError } from './errors.js'
import { MAX_SIGNED_RECEIPT_BYTES } from './receipt.js'

export const BUNDLE_VERSION = 1
/** A bundle holds at most this many receipts (a batch) and this many bytes. */
export const MAX_BUNDLE_RECEIPTS = 65_536
export const MAX_BUNDLE_BYTES = 1024 * 1024 * 1024
/** What a bundle spends besides its entries: the version field (a tag and a one-byte varint). */
export const BUNDLE_HEADER_BYTES = 2
/** A repeated bytes entry costs at most a tag and a 5-byte length varint (any length below 32 GiB) besides its bytes. */
const ENTRY_OVERHEAD_BYTES = 6
/** The smallest byte budget a bundle may be given: one SignedReceipt (at most 512 bytes) with empty tensor entries, and room to spare. */
export const MIN_BUNDLE_BUDGET = 1024

export interface BundleContents {
  /** SignedReceipt encodings, in the order of the tree's leaves. */
  receipts: Uint8Array[]
  /** Per receipt, its canonical inputs and outputs (TensorSet encodings), or empty arrays when left out. */
  inputs: Uint8Array[]
  outputs: Uint8Array[]
}

/**
 * The most bytes one receipt adds to a bundle: its receipt entry and its
 * inputs and outputs entries, whose tensors count only when kept. An upper
 * bound, so entries that add up to a budget make a bundle within it.
 */
export function bundleEntryBytes (entry: { receipt: number, inputs: number, outputs: number }, keepTensors: boolean): number {
  return 3 * ENTRY_OVERHEAD_BYTES + entry.receipt + (keepTensors ? entry.inputs + entry.outputs : 0)
}

/**
 * Whether a receipt's tensors may go in a bundle of at most `budget` bytes:
 * only when the receipt with them would fit a bundle alone. Otherwise the
 * bundle holds the receipt, whose hashes still bind the tensors, and empty
 * entries, so one receipt never makes a bundle a publisher must refuse.
 */
export function tensorsFit (entry: { receipt: number, inputs: number, outputs: number }, budget: number): boolean {
  return BUNDLE_HEADER_BYTES + bundleEntryBytes(entry, true) <= budget
}

/** Bundle's fields 2, 3 and 4 (receipts, inputs, outputs): length-delimited. */
const FIELD_TAGS = [(2 << 3) | 2, (3 << 3) | 2, (4 << 3) | 2] as const
const VERSION_TAG = (1 << 3) | 0
/** The most bytes one receipt entry takes: its tag, its length and the largest SignedReceipt. */
const RECEIPT_ENTRY_MAX_BYTES = 1 + encodingLength(MAX_SIGNED_RECEIPT_BYTES) + MAX_SIGNED_RECEIPT_BYTES

/**
 * The Bundle encoding of `contents`: the bytes protons' `Bundle.encode`
 * gives (fields in order, every entry written, empty ones too; a test holds
 * the two equal), written into `into` when it has room (a view of it is
 * returned) or into a new buffer. A batcher reuses one buffer for its
 * bundles: a new one of several MiB per seal cost more in page faults than
 * the copy into it (about 2-6 ms against 0.4-0.8 ms for 8 MiB here).
 */
export function encodeBundle (contents: BundleContents, into?: Uint8Array): Uint8Array {
  const n = contents.receipts.length
  if (n === 0 || n > MAX_BUNDLE_RECEIPTS) throw new ProofFormatError(`a bundle holds 1 to ${MAX_BUNDLE_RECEIPTS} receipts, not ${n}`)
  if (contents.inputs.length !== n || contents.outputs.length !== n) throw new ProofFormatError('a bundle needs one inputs and one outputs entry per receipt (empty when left out)')
  const fields = [contents.receipts, contents.inputs, contents.outputs]
  let size = 1 + encodingLength(BUNDLE_VERSION)
  for (const entries of fields) for (const entry of entries) size += 1 + encodingLength(entry.byteLength) + entry.byteLength
  if (size > MAX_BUNDLE_BYTES) throw new ProofFormatError(`a bundle of ${size} bytes is over the ${MAX_BUNDLE_BYTES}-byte limit`)
  const out = into != null && into.byteLength >= size ? into.subarray(0, size) : new Uint8Array(size)
  let at = 0
  out[at++] = VERSION_TAG
  encodeUint8Array(BUNDLE_VERSION, out, at)
  at += encodingLength(BUNDLE_VERSION)
  fields.forEach((entries, f) => {
    for (const entry of entries) {
      out[at++] = FIELD_TAGS[f] as number
      encodeUint8Array(entry.byteLength, out, at)
      at += encodingLength(entry.byteLength)
      out.set(entry, at)
      at += entry.byteLength
    }
  })
  return out
}

/**
 * How many bytes from a bundle's start hold its first `count` receipts, and
 * the tag that follows them, as encodeBundle lays a bundle out (the receipts
 * before any tensor): about 0.3 KB a receipt, whatever tensors follow.
 */
export function receiptsSectionBound (count: number): number {
  return BUNDLE_HEADER_BYTES + count * RECEIPT_ENTRY_MAX_BYTES + 1
}

/**
 * The receipts of a bundle of `count` receipts, read from the first bytes of
 * it (`receiptsSectionBound(count)` of them, or the whole blob if shorter)
 * when those are laid out as encodeBundle writes them: this version, `count`
 * receipt entries, then the first inputs entry. Undefined for any other
 * layout (another version, fewer or more receipts, fields in another order,
 * no bundle at all): only decodeBundle over the whole blob can say what such
 * a blob holds.
 */
export function receiptsFromPrefix (prefix: Uint8Array, count: number): Uint8Array[] | undefined {
  if (prefix[0] !== VERSION_TAG || prefix[1] !== BUNDLE_VERSION) return undefined
  const receipts: Uint8Array[] = []
  let at = BUNDLE_HEADER_BYTES
  try {
    while (receipts.length < count) {
      if (prefix[at] !== FIELD_TAGS[0]) return undefined
      const length = decodeUint8Array(prefix, at + 1)
      at += 1 + encodingLength(length)
      // A length written in more bytes than it needs is valid protobuf, but not encodeBundle's.
      if ((prefix[at - 1] as number) >= 0x80 || length > MAX_SIGNED_RECEIPT_BYTES || at + length > prefix.byteLength) return undefined
      receipts.push(prefix.subarray(at, at + length))
      at += length
    }
  } catch {
    // A varint cut off by the prefix's end, or longer than a length can be.
    return undefined
  }
  return prefix[at] === FIELD_TAGS[1] ? receipts : undefined
}

export function decodeBundle (bytes: Uint8Array): BundleContents {
  if (bytes.byteLength > MAX_BUNDLE_BYTES) throw new ProofFormatError(`a bundle of ${bytes.byteLength} bytes is over the ${MAX_BUNDLE_BYTES}-byte limit`)
  let bundle: Bundle
  try {
    bundle = Bundle.decode(bytes, { limits: { receipts: MAX_BUNDLE_RECEIPTS, inputs: MAX_BUNDLE_RECEIPTS, outputs: MAX_BUNDLE_RECEIPTS } })
  } catch (err) {
    throw new ProofFormatError(`not a bundle: ${(err as Error).message}`)
  }
  if (bundle.version !== BUNDLE_VERSION) throw new ProofFormatError(`bundle version ${bundle.version}; this herd reads version ${BUNDLE_VERSION}`)
  const n = bundle.receipts.length
  if (n === 0) throw new ProofFormatError('the bundle holds no receipts')
  if (bundle.inputs.length !== n || bundle.outputs.length !== n) throw new ProofFormatError(`the bundle has ${n} receipts but ${bundle.inputs.length} inputs and ${bundle.outputs.length} outputs entries`)
  return { receipts: bundle.receipts, inputs: bundle.inputs, outputs: bundle.outputs }
}

/**
 * The Merkle tree over a batch: leaves are sha256(0x00 ‖ SignedReceipt
 * bytes), inner nodes sha256(0x01 ‖ left ‖ right), an odd node carried up:
 * the chunk tree's construction, so one verifier serves both.
 */
export function receiptLeaves (receipts: Uint8Array[]): Uint8Array[] {
  return receipts.map(hashLeaf)
}

export function receiptRoot (receipts: Uint8Array[]): Uint8Array {
  return rootOfLeaves(receiptLeaves(receipts))
}

/** Receipt `index`'s inclusion path and the root it leads to, every leaf hashed once. */
export function receiptPath (receipts: Uint8Array[], index: number): { path: InclusionProof, root: Uint8Array } {
  const leaves = receiptLeaves(receipts)
  const root = rootOfLeaves(leaves)
  return { path: inclusionProof({ leaves, root, size: 0, chunkSize: 1024 }, index), root }
}

/** The root a receipt and its path lead to. */
export function rootOfPath (signedReceipt: Uint8Array, path: InclusionProof): Uint8Array {
  return rootFromProof(hashLeaf(signedReceipt), path)
}
