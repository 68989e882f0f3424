import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { streamPair } from '@libp2p/utils'
import { framedStream } from '../../src/mesh/length-prefixed.js'
import type { BlobClient } from '../../src/mesh/blob-client.js'
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

  it('shares the pace between peers, not streams: a peer with three uploads at once gets a turn for each of another peer\'s one', async () => {
    const pace = new UploadPace(8192 * KiB)
    const order: string[] = []
    const upload = async (peer: string): Promise<void> => {
      for (let i = 0; i < 6; i++) {
        await pace.take(UPLOAD_SLICE_BYTES, { peer })
        order.push(peer)
      }
    }
    await Promise.all([upload('a'), upload('a'), upload('a'), upload('b')])
    // a's first two slices go at once (the bucket starts full and may go a slice into debt), a's third was asked before
    // b's; after that the two peers alternate: 8 of a's before b's sixth (a timer that fires late may let two go at once,
    // the second before the first's upload asks again). In turns by stream, a would have had 18.
    const beforeLastOfB = order.slice(0, order.lastIndexOf('b'))
    const turnsOfA = beforeLastOfB.filter(peer => peer === 'a').length
    assert.ok(turnsOfA <= 10, `a had ${turnsOfA} turns before b's last: ${order.join('')}`)
    assert.equal(order.length, 24)
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

  it('shares a blob server\'s paced uploads between the peers asking, not between their streams', async () => {
    const chunkSize = 64 * KiB
    const bytes = randomBytes(16 * chunkSize)
    const { blobId, source, intact } = heldBytes(bytes, chunkSize)
    await using pair = await servingPair(source, { uploadBytesPerSec: 512 * KiB }, 2)
    const { clients, holder, signal } = pair
    const [greedy, modest] = clients as [BlobClient, BlobClient]
    const arrivals: string[] = []
    const ask = async (client: BlobClient, name: string, first: number): Promise<void> => {
      await client.chunks(holder.peerId, blobId, first, 4, async (index, data) => {
        assert.ok(intact(index, data), `chunk ${index} arrived intact`)
        arrivals.push(name)
      }, { signal })
    }
    // One peer asks for 12 chunks on three streams at once, the other for 4 on one.
    await Promise.all([ask(greedy, 'greedy', 0), ask(greedy, 'greedy', 4), ask(greedy, 'greedy', 8), ask(modest, 'modest', 12)])
    // Each peer gets half the pace while both wait: the modest peer's 4 chunks are in when the greedy one has about 4
    // (a chunk is two slices). In turns by stream it would get a quarter, and its last chunk would come with the others' 12th.
    const greedyBeforeModestDone = arrivals.slice(0, arrivals.lastIndexOf('modest')).filter(name => name === 'greedy').length
    assert.ok(greedyBeforeModestDone <= 7, `the greedy peer had ${greedyBeforeModestDone} chunks before the modest one's 4th: ${arrivals.join(' ')}`)
    assert.equal(arrivals.length, 16)
  })
})
