import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { blobIdFromBytes } from '../../src/blob/blob-id.js'
import { chunkTreeOfBytes } from '../../src/blob/chunk-tree.js'
import { BlobClient, WATCH_UPDATE_BURST } from '../../src/mesh/blob-client.js'
import type { ChunkSource } from '../../src/mesh/chunk-source.js'
import { BLOB_PROTOCOL, WATCH_INTERVAL_MS } from '../../src/mesh/constants.js'
import { framedStream } from '../../src/mesh/length-prefixed.js'
import { createMeshLibp2p, type MeshLibp2p } from '../../src/mesh/libp2p.js'
import { BlobResponse } from '../../src/mesh/pb/blob-exchange.js'
import { servingPair } from '../helpers/serving-pair.js'
import { waitFor } from '../helpers/mesh.js'

const CHUNK = 1024
const CHUNKS = 16

/** A download in progress on the serving side: `land` marks a chunk held, `letGo` discards the download. */
function growingBlob (): { source: ChunkSource, blobId: string, land: (index: number) => void, letGo: () => void } {
  const bytes = new Uint8Array(randomBytes(CHUNKS * CHUNK))
  const { leaves } = chunkTreeOfBytes(bytes, CHUNK)
  const blobId = blobIdFromBytes(randomBytes(32))
  const bits = new Uint8Array(CHUNKS / 8)
  let held = 0
  let active = true
  const source: ChunkSource = {
    async open (id) {
      if (id !== blobId) return undefined
      return {
        size: bytes.byteLength,
        chunkSize: CHUNK,
        chunkCount: CHUNKS,
        complete: false,
        leaves,
        has: index => ((bits[index >> 3] ?? 0) & (0x80 >> (index & 7))) !== 0,
        bitfield: () => bits.slice(),
        held: () => held,
        active: () => active,
        readChunk: async index => bytes.slice(index * CHUNK, (index + 1) * CHUNK),
        release: () => {}
      }
    }
  }
  const land = (index: number): void => {
    bits[index >> 3] = (bits[index >> 3] ?? 0) | (0x80 >> (index & 7))
    held++
  }
  return { source, blobId, land, letGo: () => { active = false } }
}

const heldIn = (have: Uint8Array): number => [...have].reduce((sum, byte) => sum + byte.toString(2).split('1').length - 1, 0)

describe('WATCH: a downloading peer pushes its bitfield on one stream', () => {
  it('sends the bitfield as chunks land, no more often than its interval, and ends once the blob is whole', async () => {
    const blob = growingBlob()
    const server = { watchIntervalMs: 50 }
    await using pair = await servingPair(blob.source, server)
    const updates: Array<{ held: number, complete: boolean, at: number }> = []
    const started = performance.now()
    const watching = pair.client.watch(pair.holder.peerId, blob.blobId, reply => {
      assert.equal(reply.size, CHUNKS * CHUNK)
      updates.push({ held: heldIn(reply.have), complete: reply.complete, at: performance.now() - started })
    }, { signal: pair.signal })
    await waitFor('the first answer', () => updates.length === 1)
    // Sixteen chunks land over about 320 ms: one update an interval at most, never one per chunk.
    for (let index = 0; index < CHUNKS; index++) {
      blob.land(index)
      await sleep(20)
    }
    await watching
    const elapsed = performance.now() - started
    assert.equal(updates[0]?.held, 0, 'the first answer is the bitfield as it was')
    assert.deepEqual(updates.at(-1), { ...updates.at(-1), held: CHUNKS, complete: true }, 'the last says whole')
    assert.ok(updates.every((u, i) => i === 0 || u.held > (updates[i - 1]?.held ?? -1)), `each update shows more held: ${JSON.stringify(updates)}`)
    assert.ok(updates.length <= Math.ceil(elapsed / server.watchIntervalMs) + 2, `${updates.length} updates in ${elapsed.toFixed(0)} ms at one per ${server.watchIntervalMs} ms at most`)
    assert.ok(updates.length >= 3, `${updates.length} updates: the landings were pushed as they came, not only at the end`)
  })

  it('refuses a watch past the per-peer limit with BUSY, frees the slot when the asker resets its stream, and ends when the download goes away', async () => {
    const blob = growingBlob()
    const other = growingBlob()
    const both: ChunkSource = { open: async id => await blob.source.open(id) ?? await other.source.open(id) }
    await using pair = await servingPair(both, { watchIntervalMs: 50, maxWatchesPerPeer: 1 })
    const { server } = pair
    const first = new AbortController()
    let firstAnswered = false
    const firstWatch = pair.client.watch(pair.holder.peerId, blob.blobId, () => { firstAnswered = true }, { signal: AbortSignal.any([first.signal, pair.signal]) })
    await waitFor('the first watch to answer', () => firstAnswered)
    await assert.rejects(pair.client.watch(pair.holder.peerId, other.blobId, () => {}, { signal: pair.signal }), { name: 'PeerRefusedError', status: 'BUSY' })
    first.abort(new Error('the download ended'))
    await assert.rejects(firstWatch)
    await waitFor('the server to let the reset watch go', () => server.stats.watching === 0)
    // The slot is free again; a download discarded on the serving side ends its watch with the stream's end.
    const updates: number[] = []
    const second = pair.client.watch(pair.holder.peerId, other.blobId, reply => { updates.push(heldIn(reply.have)) }, { signal: pair.signal })
    await waitFor('the second watch to answer', () => updates.length === 1)
    other.land(3)
    await waitFor('the landed chunk to be pushed', () => updates.at(-1) === 1)
    other.letGo()
    await assert.rejects(second, { name: 'UnexpectedEOFError' })
    await waitFor('the server to count no watch', () => server.stats.watching === 0)
  })

  it('HAVE and WATCH wait for the partial of a download the server announced but has not begun, and answer NOT_FOUND once it stops fetching', async () => {
    const blob = growingBlob()
    const other = growingBlob()
    // Announced at once; the partial of `blob` comes 300 ms later (its chunk hashes read first). `other` is dropped without one.
    let begun = false
    let fetchingOther = false
    let opensOfOther = 0
    const source: ChunkSource = {
      open: async id => {
        if (id === other.blobId) opensOfOther++
        return id === blob.blobId && !begun ? undefined : await blob.source.open(id)
      },
      fetching: id => id === blob.blobId || (id === other.blobId && fetchingOther)
    }
    await using pair = await servingPair(source, { watchIntervalMs: 50 })
    const started = performance.now()
    const having = pair.client.have(pair.holder.peerId, blob.blobId, { signal: pair.signal })
    let haveAt = 0
    void having.then(() => { haveAt = performance.now() - started }, () => {})
    const updates: number[] = []
    let answeredAt = 0
    const watching = pair.client.watch(pair.holder.peerId, blob.blobId, reply => {
      answeredAt ||= performance.now() - started
      updates.push(heldIn(reply.have))
    }, { signal: pair.signal })
    await sleep(300)
    assert.equal(updates.length, 0, 'no answer to the watch before the partial')
    assert.equal(haveAt, 0, 'no answer to the HAVE before the partial')
    assert.equal(pair.server.stats.uploads, 0, 'a HAVE waiting holds no upload slot')
    begun = true
    blob.land(0)
    await waitFor('the first answer', () => updates.length === 1)
    assert.ok(answeredAt >= 300, `answered ${answeredAt.toFixed(0)} ms in, once the partial was there`)
    assert.equal(updates[0], 1, 'the bitfield of the partial')
    const have = await having
    assert.ok(haveAt >= 300, `HAVE answered ${haveAt.toFixed(0)} ms in`)
    assert.equal(heldIn(have.have), 1)
    for (let index = 1; index < CHUNKS; index++) blob.land(index)
    await watching
    assert.equal(updates.at(-1), CHUNKS)
    // A download that stops before its partial: a waiting WATCH or HAVE is answered NOT_FOUND, and no slot is left taken.
    for (const ask of [
      async () => { await pair.client.watch(pair.holder.peerId, other.blobId, () => {}, { signal: pair.signal }) },
      async () => { await pair.client.have(pair.holder.peerId, other.blobId, { signal: pair.signal }) }
    ]) {
      fetchingOther = true
      const askedAt = performance.now()
      const asked = ask()
      await sleep(200)
      fetchingOther = false
      await assert.rejects(asked, { name: 'PeerRefusedError', status: 'NOT_FOUND' })
      assert.ok(performance.now() - askedAt >= 200, 'refused once the download stopped, not before')
    }
    // An asker that gives up while its HAVE waits ends the server's wait with its stream.
    fetchingOther = true
    const gaveUp = new AbortController()
    const abandoned = pair.client.have(pair.holder.peerId, other.blobId, { signal: AbortSignal.any([gaveUp.signal, pair.signal]) })
    await sleep(150)
    gaveUp.abort(new Error('the download ended'))
    await assert.rejects(abandoned)
    await sleep(200)
    const opensAfter = opensOfOther
    await sleep(300)
    assert.equal(opensOfOther, opensAfter, 'the server stopped looking once the asker closed its stream')
    fetchingOther = false
    // Not announced at all: NOT_FOUND at once.
    const unknown = performance.now()
    await assert.rejects(pair.client.watch(pair.holder.peerId, growingBlob().blobId, () => {}, { signal: pair.signal }), { name: 'PeerRefusedError', status: 'NOT_FOUND' })
    assert.ok(performance.now() - unknown < 1_000, 'a blob neither held nor fetched is refused without waiting')
    await waitFor('the server to count no watch', () => pair.server.stats.watching === 0)
  })

  it('ends a watch whose peer floods it with updates, having read a bounded number', async () => {
    const init = { listen: ['/ip4/127.0.0.1/tcp/0'], privateNetwork: true, allow: ['/ip4/127.0.0.1'] }
    const [flooder, asker] = await Promise.all([0, 1].map(async () => createMeshLibp2p({ ...init, privateKey: await generateKeyPair('Ed25519') }))) as [MeshLibp2p, MeshLibp2p]
    try {
      await Promise.all([flooder.start(), asker.start()])
      let sent = 0
      await flooder.handle(BLOB_PROTOCOL, async stream => {
        const pb = framedStream(stream, { maxDataLength: 1024 })
        await pb.read()
        const update = { status: BlobResponse.Status.OK, message: '', size: BigInt(CHUNKS * CHUNK), chunkSize: CHUNK, complete: false, hashes: new Uint8Array(0), have: new Uint8Array(CHUNKS / 8), chunks: 0 }
        try {
          for (; sent < 10_000; sent++) await pb.writeMessage(update, BlobResponse)
        } catch {
          // The asker reset the stream.
        }
      }, { maxInboundStreams: 4, maxOutboundStreams: 4 })
      const signal = AbortSignal.timeout(30_000)
      await asker.dial(flooder.getMultiaddrs(), { signal })
      const client = new BlobClient({ dialProtocol: async (peer, protocol, options) => asker.dialProtocol(peer, protocol, options) })
      let heard = 0
      await assert.rejects(client.watch(flooder.peerId, blobIdFromBytes(randomBytes(32)), () => { heard++ }, { signal }), { name: 'MeshProtocolError', message: /watch updates faster than 8 a second beyond a burst of 40/ })
      assert.ok(heard <= WATCH_UPDATE_BURST + 5, `${heard} updates handed on before the watch ended`)
    } finally {
      await Promise.allSettled([flooder.stop(), asker.stop()])
    }
  })

  it('takes an honest peer\'s updates that arrive at once, as they do behind its chunks on a capped link', async () => {
    const init = { listen: ['/ip4/127.0.0.1/tcp/0'], privateNetwork: true, allow: ['/ip4/127.0.0.1'] }
    const [holder, asker] = await Promise.all([0, 1].map(async () => createMeshLibp2p({ ...init, privateKey: await generateKeyPair('Ed25519') }))) as [MeshLibp2p, MeshLibp2p]
    try {
      await Promise.all([holder.start(), asker.start()])
      // Seven seconds of one update per interval held up, then delivered together; then the protocol's pace, and the blob whole.
      const held = Math.floor(7_000 / WATCH_INTERVAL_MS)
      await holder.handle(BLOB_PROTOCOL, async stream => {
        const pb = framedStream(stream, { maxDataLength: 1024 })
        await pb.read()
        const update = (complete: boolean): BlobResponse => ({ status: BlobResponse.Status.OK, message: '', size: BigInt(CHUNKS * CHUNK), chunkSize: CHUNK, complete, hashes: new Uint8Array(0), have: new Uint8Array(CHUNKS / 8).fill(complete ? 0xff : 0), chunks: 0 })
        for (let i = 0; i < held; i++) await pb.writeMessage(update(false), BlobResponse)
        for (let i = 0; i < 4; i++) {
          await sleep(WATCH_INTERVAL_MS)
          await pb.writeMessage(update(i === 3), BlobResponse)
        }
      }, { maxInboundStreams: 4, maxOutboundStreams: 4 })
      const signal = AbortSignal.timeout(30_000)
      await asker.dial(holder.getMultiaddrs(), { signal })
      const client = new BlobClient({ dialProtocol: async (peer, protocol, options) => asker.dialProtocol(peer, protocol, options) })
      let heard = 0
      let whole = false
      await client.watch(holder.peerId, blobIdFromBytes(randomBytes(32)), reply => { heard++; whole = reply.complete }, { signal })
      assert.equal(heard, held + 4)
      assert.equal(whole, true)
      assert.ok(held > 2 * 1000 / WATCH_INTERVAL_MS, 'more at once than a per-second count allowed')
    } finally {
      await Promise.allSettled([holder.stop(), asker.stop()])
    }
  })
})
