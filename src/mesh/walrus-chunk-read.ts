import { Uint8ArrayList } from 'uint8arraylist'
import { chunkRange } from '../blob/chunk-tree.js'
import { ChunkVerificationError } from '../blob/errors.js'
import type { WalrusStore } from '../walrus/types.js'

export interface ChunkRunBlob {
  blobId: string
  size: number
  chunkSize: number
}

export interface ChunkRunReadOptions {
  signal: AbortSignal
  /**
   * Each chunk of the run, in order, as soon as its last byte has arrived;
   * the next waits for the one before. A chunk it rejects ends the read:
   * the rest of a range that served a bad chunk is not worth its bytes.
   */
  onChunk: (index: number, data: Uint8Array | Uint8ArrayList) => Promise<void>
  /** Some of chunk `index`'s bytes have arrived, not yet all: the read is past that chunk's latency. */
  onPartial?: (index: number) => void
}

/**
 * Reads a run of consecutive chunks from Walrus in one range read, handing
 * each on as its bytes arrive rather than once the whole range has. Through
 * a capped link a 4 MiB run takes seconds: landed whole, its first chunk
 * reached peers only after the last one had arrived, and a node's peers had
 * nothing to pull from it meanwhile. A store that does not stream (the SDK's)
 * hands the chunks on when its read returns.
 */
export async function readChunkRun (walrus: Pick<WalrusStore, 'readRange'>, blob: ChunkRunBlob, run: number[], options: ChunkRunReadOptions): Promise<void> {
  const first = run[0] as number
  const last = run[run.length - 1] as number
  const start = chunkRange(first, blob.size, blob.chunkSize).start
  const end = chunkRange(last, blob.size, blob.chunkSize).end
  // Ended early when a chunk is rejected, so the failure is thrown rather than the abort it caused.
  const rejected = new AbortController()
  let failure: { error: unknown } | undefined
  let next = first
  let handing = Promise.resolve()
  const hand = (index: number, data: Uint8Array | Uint8ArrayList): void => {
    handing = handing.then(async () => {
      if (failure != null) return
      try {
        await options.onChunk(index, data)
      } catch (error) {
        failure = { error }
        rejected.abort(error)
      }
    })
  }
  // The bytes of chunk `next` arrived so far, from its start: a chunk spans several pieces of the answer, or a piece several chunks.
  let pending: Uint8Array[] = []
  let reached = start
  const onData = (bytes: Uint8Array, offset: number): void => {
    // A reader that failed over starts again: what arrived before is skipped.
    if (offset > reached || offset + bytes.byteLength <= reached) return
    let piece = bytes.subarray(reached - offset)
    while (piece.byteLength > 0 && next <= last) {
      const chunkEnd = chunkRange(next, blob.size, blob.chunkSize).end
      const take = Math.min(piece.byteLength, chunkEnd - reached)
      pending.push(piece.subarray(0, take))
      piece = piece.subarray(take)
      reached += take
      if (reached === chunkEnd) {
        hand(next++, pending.length === 1 ? pending[0] as Uint8Array : new Uint8ArrayList(...pending))
        pending = []
      }
    }
    if (pending.length > 0) options.onPartial?.(next)
  }
  let bytes: Uint8Array
  try {
    bytes = end === start ? new Uint8Array(0) : await walrus.readRange(blob.blobId, { start, end: end - 1 }, { signal: AbortSignal.any([options.signal, rejected.signal]), onData })
  } catch (err) {
    await handing
    throw failure != null ? failure.error : err
  }
  if (bytes.byteLength !== end - start) throw new ChunkVerificationError(`Walrus returned ${bytes.byteLength} bytes for a range of ${end - start}`)
  // What the store did not stream.
  for (; next <= last; next++) {
    const range = chunkRange(next, blob.size, blob.chunkSize)
    hand(next, bytes.subarray(range.start - start, range.end - start))
  }
  await handing
  if (failure != null) throw failure.error
}
