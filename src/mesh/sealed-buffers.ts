/**
 * Chunk buffers the blob server reads into and takes back once Noise has
 * sealed every byte lent out of them.
 *
 * A fresh MiB per chunk read on a holder was garbage: V8 counts every
 * ArrayBuffer as external memory and starts a full mark of the node's heap
 * for about every 64 MiB of them, so a holder ran twice the full
 * collections of a raw libp2p sender. A buffer cannot be reused once its
 * stream write resolves: yamux's and Noise's send queues may still hold the
 * plaintext until the socket drains. What ends its use is Noise sealing
 * it (the socket gets the ciphertext, a copy): herd's Noise crypto reports
 * every piece it seals here (`sealed`), and a buffer returns to the pool
 * when the bytes reported reach the bytes lent out. Bytes that are never
 * sealed (a stream aborted with them queued, another encrypter, a copy made
 * on the way) only keep their buffer from coming back: it is then garbage
 * as a fresh one would have been, never reused early. No byte is sealed
 * twice, so the count never runs ahead of the sealing.
 */

/** Buffers kept free at most, in bytes, whatever their sizes. */
const MAX_FREE_BYTES = 16 * 1024 * 1024

export interface BufferLease {
  /** The whole buffer, to read into. */
  readonly bytes: Uint8Array
  /** `length` bytes from its start are handed to a stream: the buffer comes back once Noise has sealed them all. */
  lend: (length: number) => void
  /** Nothing of it was handed on (the read failed): it comes back now. */
  cancel: () => void
}

export interface SealedBufferStats {
  /** Leases served by a new buffer, and by one that came back. */
  allocated: number
  reused: number
  /** Buffers that came back after their bytes were sealed. */
  returned: number
}

interface Lent { remaining: number }

const free = new Map<number, ArrayBuffer[]>()
let freeBytes = 0
const lent = new WeakMap<ArrayBufferLike, Lent>()
export const sealedBufferStats: SealedBufferStats = { allocated: 0, reused: 0, returned: 0 }

function giveBack (buffer: ArrayBufferLike): void {
  lent.delete(buffer)
  if (!(buffer instanceof ArrayBuffer) || freeBytes + buffer.byteLength > MAX_FREE_BYTES) return
  const list = free.get(buffer.byteLength) ?? []
  list.push(buffer)
  free.set(buffer.byteLength, list)
  freeBytes += buffer.byteLength
}

/** A buffer of `size` bytes of its own (no other view shares its memory), from the pool when one is free. */
export function leaseBuffer (size: number): BufferLease {
  let buffer = free.get(size)?.pop()
  if (buffer != null) {
    freeBytes -= size
    sealedBufferStats.reused++
  } else {
    // allocUnsafeSlow: never a slice of Node's shared pool, whose other views a reuse would overwrite.
    const slow = Buffer.allocUnsafeSlow(size)
    buffer = slow.buffer as ArrayBuffer
    sealedBufferStats.allocated++
  }
  const own = buffer
  let settled = false
  return {
    bytes: new Uint8Array(own, 0, size),
    lend: (length: number) => {
      if (settled) return
      settled = true
      if (length <= 0) giveBack(own)
      else lent.set(own, { remaining: length })
    },
    cancel: () => {
      if (settled) return
      settled = true
      giveBack(own)
    }
  }
}

/** Noise sealed these bytes: a lent buffer whose bytes are all sealed comes back. */
export function sealed (piece: Uint8Array): void {
  const lease = lent.get(piece.buffer)
  if (lease == null) return
  lease.remaining -= piece.byteLength
  if (lease.remaining > 0) return
  sealedBufferStats.returned++
  giveBack(piece.buffer)
}
