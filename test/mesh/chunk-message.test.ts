import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import type { MessageStream } from '@libp2p/interface'
import { streamPair } from '@libp2p/utils'
import { encodeChunk, readChunk } from '../../src/mesh/chunk-message.js'
import { encodeVarint, framedStream, type FramedStream } from '../../src/mesh/length-prefixed.js'
import { Chunk } from '../../src/mesh/pb/blob-exchange.js'
import { leaseBuffer } from '../../src/mesh/sealed-buffers.js'

const MAX = 2 * 1024 * 1024
const options = (): { signal: AbortSignal } => ({ signal: AbortSignal.timeout(5_000) })

async function pair (): Promise<{ raw: MessageStream, reader: FramedStream }> {
  const [raw, b] = await streamPair()
  return { raw, reader: framedStream(b, { maxDataLength: MAX + 1024 }) }
}

/** Sends `body` framed, its length first, then the body cut at `cuts`, each piece its own send. */
function sendFramed (raw: MessageStream, body: Uint8Array, cuts: number[] = []): void {
  raw.send(encodeVarint(body.byteLength))
  let at = 0
  for (const cut of [...cuts, body.byteLength]) {
    if (cut > at) raw.send(body.subarray(at, cut))
    at = cut
  }
}

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

  it('read what protons writes, arriving in pieces, into one buffer, leaving the next message whole', async () => {
    const { raw, reader } = await pair()
    const data = new Uint8Array(randomBytes(100_000))
    const encoded = Chunk.encode({ index: 300, data })
    // As it arrives: split across socket reads at awkward places (inside the header, then the data).
    sendFramed(raw, encoded, [1, 3, 50_000, 50_001])
    const small = Chunk.encode({ index: 0, data: Uint8Array.of(9) })
    sendFramed(raw, Buffer.concat([small]))
    const chunk = await readChunk(reader, { maxDataBytes: MAX, poolBytes: data.byteLength }, options())
    assert.equal(chunk.index, 300)
    assert.deepEqual(chunk.data, data)
    const next = await readChunk(reader, { maxDataBytes: MAX, poolBytes: data.byteLength }, options())
    assert.equal(next.index, 0)
    assert.deepEqual([...next.data], [9])
    // A full chunk's buffer comes back to the pool once released, for the next chunk of that size.
    const buffer = chunk.data.buffer
    chunk.release()
    next.release()
    const lease = leaseBuffer(data.byteLength)
    assert.equal(lease.bytes.buffer, buffer, 'the released buffer is leased again')
    lease.cancel()
  })

  it('skip unknown fields and refuse a cut, malformed or oversized message', async () => {
    const data = Uint8Array.of(1, 2, 3)
    const extra = Uint8Array.of((9 << 3) | 0, 0x96, 0x01, (10 << 3) | 5, 1, 2, 3, 4, (11 << 3) | 2, 2, 7, 7, (12 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8)
    const { raw, reader } = await pair()
    sendFramed(raw, Buffer.concat([extra, encodeChunk(4, data).subarray()]), [2, 9])
    const chunk = await readChunk(reader, { maxDataBytes: MAX }, options())
    assert.equal(chunk.index, 4)
    assert.deepEqual([...chunk.data], [...data])

    const whole = encodeChunk(4, data).subarray()
    const refused = async (body: Uint8Array, maxDataBytes = MAX): Promise<void> => {
      const { raw, reader } = await pair()
      sendFramed(raw, body)
      await assert.rejects(readChunk(reader, { maxDataBytes }, options()), { name: 'MeshProtocolError' })
    }
    await refused(whole.subarray(0, whole.length - 1))
    await refused(Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01))
    await refused(Uint8Array.of((3 << 3) | 7))
    await refused(Uint8Array.of(0x08))
    await refused(whole, 2)
    await refused(Buffer.concat([whole, Uint8Array.of(0x12, 1, 5)]))
  })
})
