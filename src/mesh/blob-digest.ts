import { blobIdToBytes } from '../blob/blob-id.js'

/** A blob ID holds 8 independent 32-bit words, so at most 8 hashes. */
export const MAX_DIGEST_HASHES = 8

/**
 * A Bloom filter over blob IDs. A Walrus blob ID is itself a uniform hash, so
 * its 32-bit words serve as the filter's hash functions; no seeds to agree on.
 * (The generic filter in @libp2p/utils measured about ten times its nominal
 * false-positive rate on blob IDs.)
 */
export class BlobDigest {
  readonly bits: number
  readonly hashes: number
  readonly filter: Uint8Array

  constructor (init: { bits: number, hashes: number, filter?: Uint8Array }) {
    this.bits = init.bits
    this.hashes = init.hashes
    this.filter = init.filter ?? new Uint8Array(Math.ceil(init.bits / 8))
  }

  /** The smallest filter for `count` IDs at the false-positive rate, within `maxBytes`. */
  static forCount (count: number, errorRate: number, maxBytes: number): BlobDigest {
    const n = Math.max(1, count)
    const ideal = Math.ceil(-n * Math.log(errorRate) / (Math.LN2 * Math.LN2))
    const bits = Math.max(64, Math.min(maxBytes * 8, ideal))
    const hashes = Math.max(1, Math.min(MAX_DIGEST_HASHES, Math.round(bits / n * Math.LN2)))
    return new BlobDigest({ bits, hashes })
  }

  private positions (blobId: string): number[] {
    const view = new DataView(blobIdToBytes(blobId).buffer)
    return Array.from({ length: this.hashes }, (_, i) => view.getUint32(i * 4, true) % this.bits)
  }

  add (blobId: string): void {
    for (const bit of this.positions(blobId)) this.filter[bit >> 3] = (this.filter[bit >> 3] ?? 0) | (1 << (bit & 7))
  }

  has (blobId: string): boolean {
    return this.positions(blobId).every(bit => (((this.filter[bit >> 3] ?? 0) >> (bit & 7)) & 1) === 1)
  }

  /**
   * How many IDs were added, estimated from the bits set (Swamidass and
   * Baldi): Infinity when every bit is set, a filter that claims every blob.
   */
  estimatedCount (): number {
    let set = 0
    for (let i = 0; i < this.bits; i++) if ((((this.filter[i >> 3] ?? 0) >> (i & 7)) & 1) === 1) set++
    if (set >= this.bits) return Infinity
    return -(this.bits / this.hashes) * Math.log(1 - set / this.bits)
  }
}
