import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { Uint8ArrayList } from 'uint8arraylist'
import { encodeChunk, readChunk } from '../../src/mesh/chunk-message.js'
import type { FramedStream } from '../../src/mesh/length-prefixed.js'
import { Chunk } from '../../src/mesh/pb/blob-exchange.js'

describe('chunk messages framed by hand', () => {
  it('are byte for byte what protons writes, and protons reads them', () => {
    for (const [index, size] of [[0, 0], [0, 5], [7, 0], [127, 1], [128, 1024 * 1024], [2 ** 32 - 1, 300]] as const) {
      const data = new Uint8Array(randomBytes(size))
      const ours = encodeChunk(index, data)
      assert.deepEqual(ours.subarray(), Chunk.encode({ index, data }), `index ${index}, ${size} bytes`)
      const back = Chunk.decode(ours)
      assert.equal(back.index, index)
      assert.deepEqual(back.data, data)
    }
  })

  it('read what protons writes, in pieces, copying the data into the buffer given', async () => {
    const data = new Uint8Array(randomBytes(100_000))
    const encoded = Chunk.encode({ index: 300, data })
    // As it arrives: split across socket reads at awkward places.
    const body = new Uint8ArrayList(encoded.subarray(0, 3), encoded.subarray(3, 50_000), encoded.subarray(50_000))
    const buffer = new Uint8Array(200_000)
    const chunk = await readChunk(streamOf(body), { maxBytes: 200_000, into: () => buffer })
    assert.equal(chunk.index, 300)
    assert.deepEqual(chunk.data, data)
    assert.equal(chunk.data.buffer, buffer.buffer, 'the data is in the buffer given, not in what arrived')
  })

  it('skip unknown fields and refuse a cut, malformed or oversized message', async () => {
    const data = Uint8Array.of(1, 2, 3)
    const into = (length: number): Uint8Array => new Uint8Array(length)
    const withExtra = new Uint8ArrayList(Uint8Array.of((9 << 3) | 0, 0x96, 0x01, (10 << 3) | 5, 1, 2, 3, 4), encodeChunk(4, data))
    const chunk = await readChunk(streamOf(withExtra), { maxBytes: 16, into })
    assert.equal(chunk.index, 4)
    assert.deepEqual(chunk.data, data)
    const whole = encodeChunk(4, data).subarray()
    await assert.rejects(readChunk(streamOf(new Uint8ArrayList(whole.subarray(0, whole.length - 1))), { maxBytes: 16, into }), { name: 'MeshProtocolError' })
    await assert.rejects(readChunk(streamOf(new Uint8ArrayList(Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01))), { maxBytes: 16, into }), { name: 'MeshProtocolError' })
    await assert.rejects(readChunk(streamOf(new Uint8ArrayList(Uint8Array.of((3 << 3) | 7))), { maxBytes: 16, into }), { name: 'MeshProtocolError' })
    await assert.rejects(readChunk(streamOf(new Uint8ArrayList(whole, encodeChunk(0, data).subarray())), { maxBytes: 16, into }), { name: 'MeshProtocolError', message: /data twice/ })
    // Refused before a buffer is asked for: a peer cannot make the reader hold more than a chunk of the blob.
    let asked = 0
    await assert.rejects(readChunk(streamOf(encodeChunk(4, new Uint8Array(17))), { maxBytes: 16, into: length => { asked++; return into(length) } }), { name: 'MeshProtocolError', message: /17 bytes, over the 16/ })
    assert.equal(asked, 0)
  })
})

/** A framed stream holding one message body, read as the blob client reads a chunk. */
function streamOf (body: Uint8ArrayList): Pick<FramedStream, 'readLength' | 'readBytes'> {
  const left = new Uint8ArrayList(...body)
  return {
    readLength: async () => left.byteLength,
    readBytes: async (bytes: number) => {
      if (bytes > left.byteLength) throw new Error(`${bytes} bytes asked of ${left.byteLength}`)
      const out = left.sublist(0, bytes)
      left.consume(bytes)
      return out
    }
  }
}
