import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { ChunkVerificationError } from '../../src/blob/errors.js'
import { readChunkRun } from '../../src/mesh/walrus-chunk-read.js'
import type { ByteRange, ReadRangeOptions } from '../../src/walrus/types.js'

const CHUNK = 1000

/** A store that streams `range` in pieces of `piece` bytes through onData, waiting on `gate` before it returns the whole. */
function streamingStore (bytes: Uint8Array, piece: number, gate: Promise<void> = Promise.resolve(), repeatFrom?: number) {
  const reads: ByteRange[] = []
  return {
    reads,
    readRange: async (_id: string, range: ByteRange, options: ReadRangeOptions = {}): Promise<Uint8Array> => {
      reads.push(range)
      const send = (from: number, to: number): void => {
        for (let at = from; at <= to; at += piece) {
          options.signal?.throwIfAborted()
          options.onData?.(bytes.slice(at, Math.min(at + piece, to + 1)), at)
        }
      }
      // A reader that fails over to another hands the start again.
      if (repeatFrom != null) send(range.start, repeatFrom - 1)
      send(range.start, range.end)
      await gate
      options.signal?.throwIfAborted()
      return bytes.slice(range.start, range.end + 1)
    }
  }
}

describe('readChunkRun', () => {
  it('hands each chunk on as its bytes arrive, before the range read returns, whatever the pieces', async () => {
    const bytes = new Uint8Array(randomBytes(4 * CHUNK + 300))
    const blob = { blobId: 'b', size: bytes.byteLength, chunkSize: CHUNK }
    for (const piece of [333, 1000, 2500]) {
      let release!: () => void
      const gate = new Promise<void>(resolve => { release = resolve })
      const store = streamingStore(bytes, piece, gate, 1_700)
      const handed: Array<[number, Buffer]> = []
      let allHanded!: () => void
      const before = new Promise<void>(resolve => { allHanded = resolve })
      const read = readChunkRun(store, blob, [1, 2, 3, 4], {
        signal: AbortSignal.timeout(10_000),
        onChunk: async (index, data) => {
          handed.push([index, Buffer.from(data.subarray())])
          if (index === 4) allHanded()
        }
      })
      // Every chunk arrives while the read is held open: they were handed on from its bytes alone.
      await before
      release()
      await read
      assert.deepEqual(store.reads, [{ start: CHUNK, end: bytes.byteLength - 1 }])
      assert.deepEqual(handed.map(([index]) => index), [1, 2, 3, 4], `pieces of ${piece}: in order, each once`)
      for (const [index, data] of handed) assert.deepEqual(data, Buffer.from(bytes.subarray(index * CHUNK, Math.min((index + 1) * CHUNK, bytes.byteLength))))
    }
  })

  it('hands the chunks on at the end from a store that does not stream', async () => {
    const bytes = new Uint8Array(randomBytes(3 * CHUNK))
    const handed: number[] = []
    await readChunkRun({ readRange: async (_id, range) => bytes.slice(range.start, range.end + 1) }, { blobId: 'b', size: bytes.byteLength, chunkSize: CHUNK }, [0, 1, 2], {
      signal: AbortSignal.timeout(10_000),
      onChunk: async index => { handed.push(index) }
    })
    assert.deepEqual(handed, [0, 1, 2])
  })

  it('ends the read at a rejected chunk and throws its error, handing on nothing after it', async () => {
    const bytes = new Uint8Array(randomBytes(4 * CHUNK))
    const store = streamingStore(bytes, 500)
    const handed: number[] = []
    await assert.rejects(readChunkRun(store, { blobId: 'b', size: bytes.byteLength, chunkSize: CHUNK }, [0, 1, 2, 3], {
      signal: AbortSignal.timeout(10_000),
      onChunk: async index => {
        if (index === 1) throw new ChunkVerificationError('chunk 1 does not match its hash')
        handed.push(index)
      }
    }), { name: 'ChunkVerificationError' })
    assert.deepEqual(handed, [0])
  })

  it('refuses a range answered with the wrong length', async () => {
    const bytes = new Uint8Array(randomBytes(2 * CHUNK))
    await assert.rejects(readChunkRun({ readRange: async () => bytes.slice(0, CHUNK) }, { blobId: 'b', size: bytes.byteLength, chunkSize: CHUNK }, [0, 1], {
      signal: AbortSignal.timeout(10_000),
      onChunk: async () => {}
    }), { name: 'ChunkVerificationError' })
  })
})
