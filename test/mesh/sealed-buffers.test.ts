import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { leaseBuffer, sealed, sealedBufferStats } from '../../src/mesh/sealed-buffers.js'
import { heldBytes, servingPair } from '../helpers/serving-pair.js'

describe('chunk buffers taken back once Noise has sealed them', () => {
  // A size of its own, so that no other lease in this process shares the free list.
  const size = 12_345

  it('gives a lent buffer back only when every byte lent out of it is sealed', () => {
    const first = leaseBuffer(size)
    first.lend(1000)
    sealed(first.bytes.subarray(0, 600))
    // Bytes of another buffer, however many, do not count.
    sealed(randomBytes(5000))
    const second = leaseBuffer(size)
    assert.notEqual(second.bytes.buffer, first.bytes.buffer, '400 bytes are still unsealed: the buffer is not free')
    sealed(first.bytes.subarray(600, 1000))
    const third = leaseBuffer(size)
    assert.equal(third.bytes.buffer, first.bytes.buffer, 'all 1000 bytes sealed: the buffer came back')
    second.cancel()
    assert.equal(leaseBuffer(size).bytes.buffer, second.bytes.buffer, 'a cancelled lease comes back at once')
    third.cancel()
  })

  it('never lends a slice of memory that other views share', () => {
    const lease = leaseBuffer(size)
    assert.equal(lease.bytes.byteOffset, 0)
    assert.equal(lease.bytes.buffer.byteLength, size)
    lease.cancel()
  })
})

describe('a holder serving chunks over herd\'s libp2p stack', () => {
  it('reads them into buffers it reuses, and every chunk arrives intact', async () => {
    const chunkSize = 64 * 1024
    const readInto = new Set<ArrayBufferLike>()
    let reads = 0
    // Chunk-sized pieces of random bytes: a reused buffer written over too early would show as a chunk with another's bytes.
    const { blobId, count, source, intact } = heldBytes(randomBytes(48 * chunkSize + 1234), chunkSize, (_index, chunk, into) => {
      reads++
      if (into == null) return new Uint8Array(chunk)
      readInto.add(into.buffer)
      into.set(chunk)
      return into.subarray(0, chunk.byteLength)
    })
    await using pair = await servingPair(source)
    const { client, holder, signal } = pair
    const reusedBefore = sealedBufferStats.reused
    // Four requests at once, as a download makes them, then four more: buffers sealed in the first round serve the second.
    for (const round of [0, 1]) {
      await Promise.all([0, 1, 2, 3].map(async r => {
        const first = round * 24 + r * 6
        await client.chunks(holder.peerId, blobId, first, r === 3 && round === 1 ? count - first : 6, async (index, data) => {
          assert.ok(intact(index, data), `chunk ${index} arrived intact`)
        }, { signal })
      }))
    }
    assert.equal(reads, count)
    assert.ok(readInto.size > 0, 'the server read chunks into buffers of its own')
    assert.ok(readInto.size < count, `${count} chunks were read into ${readInto.size} buffers: some were reused`)
    assert.ok(sealedBufferStats.reused > reusedBefore)
  })
  it('reads a short chunk into a buffer of its size, not a chunk-sized lease: a small blob may have chunks of 64 MiB', async () => {
    const chunkSize = 64 * 1024 * 1024
    const bytes = randomBytes(2_000)
    const intoSizes: number[] = []
    const { blobId, source } = heldBytes(bytes, chunkSize, (_index, chunk, into) => {
      intoSizes.push(into?.byteLength ?? 0)
      if (into == null) return new Uint8Array(chunk)
      into.set(chunk)
      return into.subarray(0, chunk.byteLength)
    })
    await using pair = await servingPair(source)
    const { client, holder, signal } = pair
    let received = 0
    await client.chunks(holder.peerId, blobId, 0, 1, async (_index, data) => { received = data.byteLength }, { signal })
    assert.equal(received, bytes.byteLength)
    assert.equal(intoSizes.length, 1)
    assert.ok(intoSizes[0]! <= bytes.byteLength, `a chunk of ${bytes.byteLength} bytes read into a buffer of ${intoSizes[0]}`)
  })
})
