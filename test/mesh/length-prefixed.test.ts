import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { streamPair } from '@libp2p/utils'
import { encodeVarint, framedStream } from '../../src/mesh/length-prefixed.js'
import { BlobRequest } from '../../src/mesh/pb/blob-exchange.js'

/** Long enough for bytes to cross the in-memory pair; a read that waits for more than was sent fails by this. */
const signal = (): AbortSignal => AbortSignal.timeout(5_000)

describe('length-prefixed framing', () => {
  it('encodes varints as protobuf does', () => {
    assert.deepEqual([...encodeVarint(0)], [0])
    assert.deepEqual([...encodeVarint(127)], [0x7f])
    assert.deepEqual([...encodeVarint(128)], [0x80, 0x01])
    assert.deepEqual([...encodeVarint(300)], [0xac, 0x02])
    assert.deepEqual([...encodeVarint(2 ** 28)], [0x80, 0x80, 0x80, 0x80, 0x01])
    assert.throws(() => encodeVarint(-1), { name: 'RangeError' })
  })

  it('round-trips messages of zero bytes, of the exact maximum, and protobuf messages', async () => {
    const [a, b] = await streamPair()
    const writer = framedStream(a, { maxDataLength: 300 })
    const reader = framedStream(b, { maxDataLength: 300 })
    const full = new Uint8Array(300).map((_, i) => i)
    await writer.write(new Uint8Array(0))
    await writer.write(full)
    await writer.writeMessage({ kind: BlobRequest.Kind.CHUNKS, blobId: new Uint8Array(32).fill(7), first: 3, count: 2 }, BlobRequest)
    assert.equal((await reader.read({ signal: signal() })).byteLength, 0)
    assert.deepEqual((await reader.read({ signal: signal() })).subarray(), full)
    const request = await reader.readMessage(BlobRequest, { signal: signal() })
    assert.equal(request.first, 3)
    assert.equal(request.count, 2)
  })

  it('bounds one read below the stream\'s limit, refusing a longer message from its prefix alone', async () => {
    const [a, b] = await streamPair()
    const writer = framedStream(a, { maxDataLength: 1000 })
    const reader = framedStream(b, { maxDataLength: 1000 })
    await writer.write(new Uint8Array(100))
    await writer.write(new Uint8Array(101))
    assert.equal((await reader.read({ signal: signal(), maxDataLength: 100 })).byteLength, 100)
    await assert.rejects(reader.read({ signal: signal(), maxDataLength: 100 }), { name: 'MessageTooLargeError' })
    await assert.rejects(reader.read({ signal: signal(), maxDataLength: 1001 }), { name: 'RangeError' })
  })

  it('reads a length prefix and a body that arrive split across chunks', async () => {
    const [a, b] = await streamPair()
    const reader = framedStream(b, { maxDataLength: 1000 })
    const read = reader.read({ signal: signal() })
    // 300 is 0xac 0x02: the prefix comes in two pieces, then the body in two.
    a.send(new Uint8Array([0xac]))
    await sleep(20)
    a.send(new Uint8Array([0x02]))
    await sleep(20)
    a.send(new Uint8Array(100).fill(1))
    await sleep(20)
    a.send(new Uint8Array(200).fill(2))
    const body = (await read).subarray()
    assert.equal(body.byteLength, 300)
    assert.equal(body[99], 1)
    assert.equal(body[100], 2)
  })

  it('refuses a declared length one over the maximum before any of the body is sent', async () => {
    const [a, b] = await streamPair()
    const reader = framedStream(b, { maxDataLength: 300 })
    a.send(encodeVarint(301))
    // No body follows: a reader that waited for one would time out instead.
    await assert.rejects(reader.read({ signal: signal() }), { name: 'MessageTooLargeError' })
  })

  it('refuses a length prefix longer than the maximum needs at its first extra byte, without waiting for it to end', async () => {
    const [a, b] = await streamPair()
    // 300 needs two varint bytes; the third continuation byte is refused, with nothing after it sent.
    const reader = framedStream(b, { maxDataLength: 300 })
    a.send(new Uint8Array([0xff, 0xff, 0xff]))
    await assert.rejects(reader.read({ signal: signal() }), { name: 'LengthPrefixTooLongError' })
  })

  it('refuses a megabyte of 0xff after reading only the prefix bytes allowed', async () => {
    const [a, b] = await streamPair()
    const reader = framedStream(b, { maxDataLength: 64 * 1024 * 1024, maxBufferSize: 2 * 1024 * 1024 })
    a.send(new Uint8Array(1024 * 1024).fill(0xff))
    await assert.rejects(reader.read({ signal: signal() }), { name: 'LengthPrefixTooLongError' })
  })

  it('names a body cut short by the end of the stream', async () => {
    const [a, b] = await streamPair()
    const reader = framedStream(b, { maxDataLength: 300 })
    a.send(encodeVarint(10))
    a.send(new Uint8Array(4))
    await a.close()
    await assert.rejects(reader.read({ signal: signal() }), { name: 'UnexpectedEOFError' })
  })
})
