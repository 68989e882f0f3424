import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { withTimeout } from '../../harness/in-process-mesh.js'
import { LIAR_KINDS, startHostilePeer, type HostilePeer } from '../../harness/hostile-peers.js'
import type { BlobId } from '../../src/blob/blob-id.js'
import type { HerdNode } from '../../src/node.js'
import { devnetForSuite, randomModel, startNodes, stopNodes, waitFor } from '../helpers/mesh.js'
import { BLOB_STREAM_IDLE_TIMEOUT_MS } from '../../src/mesh/constants.js'

const CHUNK = 256 * 1024
/** Short pace windows, so a liar costs the test a few seconds at most. */
const FETCH = { coordinationMs: 300, stallMs: 1_500, haveIntervalMs: 100, paceWindowMs: 1_000 }
/** The slow liar sent one 1 MiB chunk per 15 s; here one 256 KiB chunk per 2 s, the same order of pace (128 KiB/s). */
const SLOW_CHUNK_MS = 2_000

async function cachedBytes (node: HerdNode, blobId: BlobId): Promise<Buffer> {
  const handle = await node.cache.open(blobId)
  assert.ok(handle != null, `${blobId} is in the cache`)
  try {
    return await readFile(handle.path)
  } finally {
    handle.release()
  }
}

/** One liar of each kind, connected to `node`, and heard by it: listed as a holder, or its announcement rejected. */
async function startLiars (node: HerdNode, blob: { blobId: BlobId, bytes: Uint8Array }): Promise<HostilePeer[]> {
  const liars: HostilePeer[] = []
  try {
    for (const kind of LIAR_KINDS) liars.push(await startHostilePeer(kind, { ...blob, chunkSize: CHUNK }, { slowChunkMs: SLOW_CHUNK_MS }))
    for (const liar of liars) await liar.libp2p.dial(node.libp2p.getMultiaddrs())
    const listed = (liar: HostilePeer): boolean => node.providers.providers(blob.blobId).some(p => p.peerId === liar.peerId)
    for (const liar of liars) {
      await waitFor(`the node to hear the ${liar.kind} liar`, () => listed(liar) || (liar.kind === 'all-bits-digest' && node.status().gossip.rejected > 0), 30_000)
    }
  } catch (err) {
    await Promise.allSettled(liars.map(async liar => { await liar.stop() }))
    throw err
  }
  return liars
}

describe('hostile holders: a fetch falls back past liars, and the liars are scored down', () => {
  const suite = devnetForSuite()

  it('with only liars claiming the blob, Walrus serves what they claimed and every liar loses score', async () => {
    const bytes = randomModel(4 * 1024 * 1024)
    const { blobId } = await suite.devnet.publish(bytes, { chunkSize: CHUNK })
    const nodes = await startNodes(1, join(suite.dir, 'alone'), suite.devnet, { fetch: FETCH })
    const [node] = nodes as [HerdNode]
    const liars = await startLiars(node, { blobId, bytes })
    try {
      // Bounded well past what the fallback needs (a few pace windows of 1 s): before the fix a BUSY holder's claims held Walrus back for ever.
      await withTimeout('a fetch past the liars', 30_000, async signal => node.fetcher.fetch(blobId, { signal }))
      assert.deepEqual(await cachedBytes(node, blobId), Buffer.from(bytes))
      const { bytesFromPeers, bytesFromWalrus } = node.fetcher.counters
      const slow = liars.find(l => l.kind === 'slow') as HostilePeer
      // Only the slow liar had a good chunk to give; the rest came from Walrus.
      assert.ok(bytesFromPeers <= slow.goodChunksSent() * CHUNK, `peers gave ${bytesFromPeers} bytes; the slow liar sent ${slow.goodChunksSent()} chunks`)
      // The chunk hashes (32 bytes a chunk) count among Walrus bytes when the liars asked for them first let the hedge go to Walrus.
      const hashBytes = 32 * Math.ceil(bytes.byteLength / CHUNK)
      assert.ok([bytes.byteLength, bytes.byteLength + hashBytes].includes(bytesFromPeers + bytesFromWalrus), `${bytesFromPeers} bytes from peers and ${bytesFromWalrus} from Walrus for a blob of ${bytes.byteLength}`)
      for (const liar of liars) {
        assert.ok(node.scores.score(liar.peerId) < 0, `the ${liar.kind} liar is scored down (score ${node.scores.score(liar.peerId)})`)
      }
      const penalized = node.status().penalizedPeers
      assert.ok(penalized.some(p => p.peerId === (liars.find(l => l.kind === 'corrupt') as HostilePeer).peerId && p.badChunks >= 1))
    } finally {
      await Promise.allSettled(liars.map(async liar => { await liar.stop() }))
      await stopNodes(nodes)
    }
  })

  it('beside an honest holder, liars cost no Walrus bytes and no waiting on the silent one', async () => {
    const bytes = randomModel(4 * 1024 * 1024)
    const { blobId } = await suite.devnet.publish(bytes, { chunkSize: CHUNK })
    const nodes = await startNodes(2, join(suite.dir, 'beside'), suite.devnet, { fetch: FETCH })
    const [honest, node] = nodes as [HerdNode, HerdNode]
    const liars: HostilePeer[] = []
    try {
      await honest.fetcher.fetch(blobId)
      await waitFor('the node to hear of the honest holder', () => node.providers.providers(blobId).some(p => p.peerId === honest.peerId.toString() && p.state === 'holder'))
      liars.push(...await startLiars(node, { blobId, bytes }))
      let chunksFromWalrus = -1
      // The silent liar's stream is abandoned only after 20 s of silence (the blob protocol's idle timeout): before the fix its chunks waited that long.
      const started = Date.now()
      await withTimeout('a fetch beside the liars', 60_000, async signal => node.fetcher.fetch(blobId, {
        signal,
        onProgress: event => { if (event.type === 'fetch:done') chunksFromWalrus = event.bytesFromWalrus }
      }))
      const ms = Date.now() - started
      // Before the fix this wait was the idle timeout itself; finishing before it fires is what shows no chunk waited on the silent liar.
      assert.ok(ms < BLOB_STREAM_IDLE_TIMEOUT_MS, `the fetch took ${ms} ms, as long as the silent liar's ${BLOB_STREAM_IDLE_TIMEOUT_MS} ms idle timeout`)
      assert.deepEqual(await cachedBytes(node, blobId), Buffer.from(bytes))
      // (The chunk hashes may come from Walrus: they are asked of it too when the first peers asked are liars.)
      assert.equal(chunksFromWalrus, 0, 'the honest holder covered for every liar')
      const silent = liars.find(l => l.kind === 'silent') as HostilePeer
      const busy = liars.find(l => l.kind === 'busy-holder') as HostilePeer
      assert.ok(silent.requests() >= 1 && busy.requests() >= 1, 'the liars were asked')
      assert.ok(node.scores.score(busy.peerId) < 0, 'BUSY costs score')
    } finally {
      await Promise.allSettled(liars.map(async liar => { await liar.stop() }))
      await stopNodes(nodes)
    }
  })

  it('a warm fetch from an honest holder that would end later than Walrus alone reads the rest from Walrus, judged on Walrus\'s own timing', async () => {
    const warmUp = await suite.devnet.publish(randomModel(2 * CHUNK), { chunkSize: CHUNK })
    const bytes = randomModel(4 * 1024 * 1024)
    const { blobId } = await suite.devnet.publish(bytes, { chunkSize: CHUNK })
    // The slow holder's 256 KiB/s (a chunk a second) is above the least pace of a source, so it is kept, and a second between chunks is
    // no stall: what brings Walrus in is the hedge alone. The pace window (20 s) is longer than the holder takes for the whole blob
    // (16 s): a hedge that waited for a window of the peers' pace, as before, never came, and Walrus gave nothing.
    const nodes = await startNodes(1, join(suite.dir, 'slow-holder'), suite.devnet, { fetch: { ...FETCH, stallMs: 60_000, paceWindowMs: 20_000, minSourceBytesPerSec: 16 * 1024 } })
    const [node] = nodes as [HerdNode]
    suite.devnet.walrus.setShaping({ bandwidthBytesPerSec: 1024 * 1024 })
    const slow = await startHostilePeer('slow', { blobId, bytes, chunkSize: CHUNK }, { slowChunkMs: 1_000 })
    try {
      // Alone, so read from Walrus at once: the node times Walrus's latency (the chunk hashes) and a read's pace (the blob).
      await node.fetcher.fetch(warmUp.blobId)
      await slow.libp2p.dial(node.libp2p.getMultiaddrs())
      await waitFor('the node to hear the slow holder', () => node.providers.providers(blobId).some(p => p.peerId === slow.peerId && p.state === 'holder'), 30_000)
      const before = node.fetcher.counters.bytesFromWalrus
      // From the slow holder alone the 16 chunks take 16 s; Walrus alone about 4 s. Bounded only.
      await withTimeout('a fetch past the slow holder', 60_000, async signal => node.fetcher.fetch(blobId, { signal }))
      assert.deepEqual(await cachedBytes(node, blobId), Buffer.from(bytes))
      const fromWalrus = node.fetcher.counters.bytesFromWalrus - before
      assert.ok(fromWalrus >= bytes.byteLength / 2, `Walrus gave ${fromWalrus} of ${bytes.byteLength} bytes`)
      assert.equal(node.scores.score(slow.peerId) >= 0, true, 'an honest holder slower than Walrus is not scored down')
    } finally {
      suite.devnet.walrus.setShaping({ bandwidthBytesPerSec: 0 })
      await slow.stop()
      await stopNodes(nodes)
    }
  })
})
