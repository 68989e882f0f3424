import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { Uint8ArrayList } from 'uint8arraylist'
import { decodeChunk, encodeChunk } from '../../src/mesh/chunk-message.js'
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

  it('read what protons writes, in pieces, without copying the data', () => {
    const data = new Uint8Array(randomBytes(100_000))
    const encoded = Chunk.encode({ index: 300, data })
    // As it arrives: split across socket reads at awkward places.
    const body = new Uint8ArrayList(encoded.subarray(0, 3), encoded.subarray(3, 50_000), encoded.subarray(50_000))
    const chunk = decodeChunk(body)
    assert.equal(chunk.index, 300)
    assert.deepEqual(chunk.data.subarray(), data)
    assert.ok([...chunk.data].every(piece => piece.buffer === encoded.buffer), 'the pieces are views of what arrived')
  })

  it('skip unknown fields and refuse a cut or malformed message', () => {
    const data = Uint8Array.of(1, 2, 3)
    const withExtra = new Uint8ArrayList(Uint8Array.of((9 << 3) | 0, 0x96, 0x01, (10 << 3) | 5, 1, 2, 3, 4), encodeChunk(4, data))
    const chunk = decodeChunk(withExtra)
    assert.equal(chunk.index, 4)
    assert.deepEqual(chunk.data.subarray(), data)
    const whole = encodeChunk(4, data).subarray()
    assert.throws(() => decodeChunk(new Uint8ArrayList(whole.subarray(0, whole.length - 1))), { name: 'MeshProtocolError' })
    assert.throws(() => decodeChunk(new Uint8ArrayList(Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01))), { name: 'MeshProtocolError' })
    assert.throws(() => decodeChunk(new Uint8ArrayList(Uint8Array.of((3 << 3) | 7))), { name: 'MeshProtocolError' })
  })
})
