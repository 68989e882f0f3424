/** Below this a reused buffer is not worth keeping. */
const MIN_BYTES = 64 * 1024

/**
 * One buffer lent out front to back and taken back whole, for what a seal
 * reads and writes (its receipts' tensors, its bundle). Fresh buffers of a
 * bundle's size every seal were what drove the collector's full marks under
 * load (external memory only a full mark reclaims), one or two a second.
 * It grows by doubling up to `maxBytes` and is then kept, so a node that
 * seals bundles holds that much; past it a piece is a fresh buffer.
 */
export class ReusedBuffer {
  private readonly maxBytes: number
  private buffer = Buffer.allocUnsafe(0)
  private used = 0

  constructor (maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`maxBytes must be a non-negative integer, not ${maxBytes}`)
    this.maxBytes = maxBytes
  }

  /** `bytes` bytes of undefined content, the caller's until the next reset(). */
  lend (bytes: number): Buffer {
    if (this.used + bytes > this.buffer.byteLength) {
      if (this.buffer.byteLength >= this.maxBytes || bytes > this.maxBytes) return Buffer.allocUnsafe(bytes)
      // Pieces lent from the smaller buffer stay valid: they keep it alive until they are dropped.
      this.buffer = Buffer.allocUnsafe(Math.min(this.maxBytes, Math.max(2 * this.buffer.byteLength, bytes, MIN_BYTES)))
      this.used = 0
    }
    const piece = this.buffer.subarray(this.used, this.used + bytes)
    this.used += bytes
    return piece
  }

  /** Every piece lent so far may be lent again: none of them may be read or written after this. */
  reset (): void {
    this.used = 0
  }
}
