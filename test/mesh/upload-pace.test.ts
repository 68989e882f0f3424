import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { streamPair } from '@libp2p/utils'
import { framedStream } from '../../src/mesh/length-prefixed.js'
import { MIN_UPLOAD_BYTES_PER_SEC, UPLOAD_SLICE_BYTES, UploadPace } from '../../src/mesh/upload-pace.js'
import { heldBytes, servingPair } from '../helpers/serving-pair.js'

const KiB = 1024

describe('upload pace', () => {
  it('holds uploads to its rate: a MiB past the first two slices takes at least its share of a second', async () => {
    const pace = new UploadPace(1024 * KiB)
    const started = performance.now()
    for (let i = 0; i < 16; i++) await pace.take(UPLOAD_SLICE_BYTES)
    // Two slices go at once (the bucket starts full, and may go one slice into debt); the other 14 wait for theirs. A slow
    // machine only waits longer.
    assert.ok(performance.now() - started >= 14 * 1000 / 16 - 5, `16 slices at 1 MiB/s took ${(performance.now() - started).toFixed(0)} ms`)
  })

  it('lets concurrent uploads go in turns, slice by slice, in the order they asked', async () => {
    const pace = new UploadPace(4096 * KiB)
    const order: string[] = []
    const upload = async (name: string): Promise<void> => {
      for (let i = 0; i < 4; i++) {
        await pace.take(UPLOAD_SLICE_BYTES)
        order.push(name)
      }
    }
    await Promise.all([upload('a'), upload('b')])
    assert.deepEqual(order, ['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b'])
  })

  it('gives up a wait when its signal aborts, charging nothing, and goes on serving the others', async () => {
    const pace = new UploadPace(MIN_UPLOAD_BYTES_PER_SEC)
    // The first slice empties the bucket and the second puts it a slice in debt, which takes a second to pay back.
    await pace.take(UPLOAD_SLICE_BYTES)
    await pace.take(UPLOAD_SLICE_BYTES)
    const controller = new AbortController()
    const waiting = pace.take(UPLOAD_SLICE_BYTES, { signal: controller.signal })
    controller.abort(new Error('the stream closed'))
    await assert.rejects(waiting, { message: 'the stream closed' })
    const started = performance.now()
    await pace.take(UPLOAD_SLICE_BYTES)
    // It pays for the one slice in debt, not for the aborted one as well: about 1 s, never 2.
    const waited = performance.now() - started
    assert.ok(waited < 1900, `the next upload waited ${waited.toFixed(0)} ms`)
  })

  it('refuses a pace it could not keep and a burst that is not bytes', () => {
    assert.throws(() => new UploadPace(MIN_UPLOAD_BYTES_PER_SEC - 1), { name: 'RangeError' })
    assert.throws(() => new UploadPace(MIN_UPLOAD_BYTES_PER_SEC + 0.5), { name: 'RangeError' })
    assert.throws(() => new UploadPace(MIN_UPLOAD_BYTES_PER_SEC, 0), { name: 'RangeError' })
  })

  it('sends a paced message as the same bytes as an unpaced one, in slices each let go by the pace', async () => {
    const [a, b] = await streamPair()
    const writer = framedStream(a, { maxDataLength: 1024 * KiB })
    const reader = framedStream(b, { maxDataLength: 1024 * KiB })
    const body = new Uint8Array(300 * KiB).map((_, i) => i % 251)
    const slices: number[] = []
    await writer.write(body, { pace: { sliceBytes: 64 * KiB, take: async bytes => { slices.push(bytes) } } })
    const read = await reader.read({ signal: AbortSignal.timeout(5_000) })
    assert.deepEqual(read.subarray(), body)
    // The 3-byte length prefix and the body, 64 KiB at a time.
    assert.deepEqual(slices, [64 * KiB, 64 * KiB, 64 * KiB, 64 * KiB, 300 * KiB + 3 - 256 * KiB])
  })

  it('holds a blob server\'s chunk uploads to mesh.uploadBytesPerSec, and sends them intact', async () => {
    const chunkSize = 256 * KiB
    const bytes = randomBytes(4 * chunkSize)
    const { blobId, source, intact } = heldBytes(bytes, chunkSize)
    const bytesPerSec = 512 * KiB
    await using pair = await servingPair(source, { uploadBytesPerSec: bytesPerSec })
    const { client, holder, signal } = pair
    const started = performance.now()
    // Two requests at once, as a download makes them: the pace is the server's, not a stream's.
    await Promise.all([0, 2].map(async first => {
      await client.chunks(holder.peerId, blobId, first, 2, async (index, data) => {
        assert.ok(intact(index, data), `chunk ${index} arrived intact`)
      }, { signal })
    }))
    const seconds = (performance.now() - started) / 1000
    // 1 MiB at 512 KiB/s, less the two slices that go at once: at least 1.75 s; unpaced, loopback takes milliseconds.
    assert.ok(seconds >= (bytes.byteLength - 2 * UPLOAD_SLICE_BYTES) / bytesPerSec - 0.01, `1 MiB at 512 KiB/s took ${seconds.toFixed(2)} s`)
  })
})
