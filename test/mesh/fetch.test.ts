import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { BlobId } from '../../src/blob/blob-id.js'
import { chunkCount, chunkRange, chunkTreeOfBytes } from '../../src/blob/chunk-tree.js'
import { CacheAnnouncer } from '../../src/mesh/announcer.js'
import { BlobClient } from '../../src/mesh/blob-client.js'
import { BlobServer } from '../../src/mesh/blob-server.js'
import type { ChunkSource } from '../../src/mesh/chunk-source.js'
import { CACHE_TOPIC } from '../../src/mesh/constants.js'
import { createMeshLibp2p, type MeshLibp2p } from '../../src/mesh/libp2p.js'
import { ProviderIndex } from '../../src/mesh/provider-index.js'
import { downloaderOrder, walrusShareOf } from '../../src/mesh/provider-selection.js'
import type { HerdNode } from '../../src/node.js'
import { devnetForSuite, randomModel, startNodes, stopNodes, waitFor } from '../helpers/mesh.js'

const CHUNK = 256 * 1024

async function cachedBytes (node: HerdNode, blobId: BlobId): Promise<Buffer> {
  const handle = await node.cache.open(blobId)
  assert.ok(handle != null, `${blobId} is in the cache`)
  try {
    return await readFile(handle.path)
  } finally {
    handle.release()
  }
}

describe('the mesh: nodes fetch blobs from each other before Walrus', () => {
  const suite = devnetForSuite()

  it('serves a blob held by node A to node B from A: Walrus serves nothing', async () => {
    const bytes = randomModel(3 * 1024 * 1024 + 123)
    const { blobId } = await suite.devnet.publish(bytes, { chunkSize: CHUNK })
    const nodes = await startNodes(2, join(suite.dir, 'a-to-b'), suite.devnet)
    const [a, b] = nodes as [HerdNode, HerdNode]
    try {
      await a.fetcher.fetch(blobId)
      assert.equal(a.fetcher.counters.walrusHits, 1)
      await waitFor('B to hear that A holds the blob', () => b.providers.providers(blobId).some(p => p.peerId === a.peerId.toString() && p.state === 'holder'))
      const servedBefore = suite.devnet.walrus.stats.bytesServed
      const sources = new Set<string>()
      await b.fetcher.fetch(blobId, { onProgress: event => { if (event.type === 'fetch:chunk') sources.add(event.source) } })
      assert.equal(suite.devnet.walrus.stats.bytesServed, servedBefore, 'Walrus served no byte to B')
      assert.deepEqual([...sources], ['peer'])
      assert.equal(b.fetcher.counters.peerHits, 1)
      assert.equal(b.fetcher.counters.bytesFromPeers, bytes.byteLength)
      assert.deepEqual(await cachedBytes(b, blobId), Buffer.from(bytes))
      // A second request is a local hit.
      await b.fetcher.fetch(blobId)
      assert.equal(b.fetcher.counters.localHits, 1)
    } finally {
      await stopNodes(nodes)
    }
  })

  it('holds what a node serves its peers to its mesh.uploadBytesPerSec, and the peer still takes it all from there', async () => {
    const bytes = randomModel(1536 * 1024)
    const { blobId } = await suite.devnet.publish(bytes, { chunkSize: CHUNK })
    const uploadBytesPerSec = 512 * 1024
    const mesh = { digestIntervalMs: 1_000, privateNetwork: true, dhtProvide: false, allow: ['/ip4/127.0.0.1'], providerTtlMs: 10_000, uploadBytesPerSec }
    const nodes = await startNodes(2, join(suite.dir, 'paced'), suite.devnet, { mesh })
    const [a, b] = nodes as [HerdNode, HerdNode]
    try {
      await a.fetcher.fetch(blobId)
      await waitFor('B to hear that A holds the blob', () => b.providers.providers(blobId).some(p => p.peerId === a.peerId.toString() && p.state === 'holder'))
      const servedBefore = suite.devnet.walrus.stats.bytesServed
      const started = performance.now()
      await b.fetcher.fetch(blobId)
      const seconds = (performance.now() - started) / 1000
      assert.equal(suite.devnet.walrus.stats.bytesServed, servedBefore, 'Walrus served no byte to B')
      assert.deepEqual(await cachedBytes(b, blobId), Buffer.from(bytes))
      // 1.5 MiB at 512 KiB/s, less the two 64 KiB slices the pace lets go at once: at least 2.75 s (loopback unpaced: milliseconds).
      assert.ok(seconds >= (bytes.byteLength - 2 * 64 * 1024) / uploadBytesPerSec - 0.05, `B took ${seconds.toFixed(2)} s`)
      // A's status tells its operator the pace and that it held the uploads back for most of that time.
      const { paceBytesPerSec, paceWaitSeconds } = a.status().serve
      assert.equal(paceBytesPerSec, uploadBytesPerSec)
      assert.ok(paceWaitSeconds >= 2, `A's uploads waited ${paceWaitSeconds.toFixed(2)} s on the pace`)
    } finally {
      await stopNodes(nodes)
    }
  })

  it('8 cold nodes asking for one blob at once pull about one copy from Walrus', async () => {
    const bytes = randomModel(12 * 1024 * 1024)
    const { blobId } = await suite.devnet.publish(bytes, { chunkSize: CHUNK })
    // What is checked is that coordinated first reads split the blob; the fallbacks when peers stall (tested in liars.test.ts) are given room, so 8 nodes
    // sharing 2 busy cores do not set them off. The coordination window is the default, stretched by the measured gossip delay.
    const nodes = await startNodes(8, join(suite.dir, 'cold'), suite.devnet, { fetch: { stallMs: 10_000, paceWindowMs: 10_000 } })
    // Walrus as a distant origin, as it is on a real network: a fetcher reads ahead from Walrus when its peers fall behind a Walrus read's pace, and an unshaped loopback Walrus outpaces CPU-starved peers.
    suite.devnet.walrus.setShaping({ latencyMs: 50, bandwidthBytesPerSec: 4 * 1024 * 1024 })
    try {
      const servedBefore = suite.devnet.walrus.stats.bytesServed
      const entries = await Promise.all(nodes.map(async node => node.fetcher.fetch(blobId)))
      const fromWalrus = suite.devnet.walrus.stats.bytesServed - servedBefore
      const ratio = fromWalrus / bytes.byteLength
      process.stderr.write(`# 8 cold nodes: Walrus served ${fromWalrus} bytes for a ${bytes.byteLength}-byte blob (${ratio.toFixed(2)}x)\n`)
      assert.ok(ratio <= 1.5, `Walrus served ${ratio.toFixed(2)}x the blob`)
      for (const entry of entries) assert.equal(entry.size, bytes.byteLength)
      const peerBytes = nodes.reduce((sum, node) => sum + node.fetcher.counters.bytesFromPeers, 0)
      assert.ok(peerBytes >= 6 * bytes.byteLength, `peers carried ${peerBytes} bytes`)
      for (const node of nodes.slice(0, 3)) assert.deepEqual(await cachedBytes(node, blobId), Buffer.from(bytes))
    } finally {
      suite.devnet.walrus.setShaping({ latencyMs: 0, bandwidthBytesPerSec: 0 })
      await stopNodes(nodes)
    }
  })

  it('answers a peer\'s HAVE of a download it announced once the download has begun, not NOT_FOUND while it reads the chunk hashes', async () => {
    const bytes = randomModel(2 * 1024 * 1024)
    const { blobId } = await suite.devnet.publish(bytes, { chunkSize: CHUNK })
    const nodes = await startNodes(2, join(suite.dir, 'have-early'), suite.devnet)
    const [a, b] = nodes as [HerdNode, HerdNode]
    // A Walrus far enough away that A's read of the chunk hashes takes a second after it announced the download.
    suite.devnet.walrus.setShaping({ latencyMs: 1_000 })
    try {
      const fetching = a.fetcher.fetch(blobId)
      const aId = a.peerId.toString()
      await waitFor('B to hear that A is fetching', () => b.providers.providers(blobId).some(p => p.peerId === aId && p.state === 'fetching'))
      assert.equal(a.cache.partialOf(blobId), undefined, 'A is still reading the chunk hashes')
      const client = new BlobClient({ dialProtocol: async (peer, protocol, options) => b.libp2p.dialProtocol(peer, protocol, options) })
      const have = await client.have(a.peerId, blobId, { signal: AbortSignal.timeout(20_000) })
      assert.equal(have.size, bytes.byteLength)
      assert.equal(have.have.byteLength, Math.ceil(bytes.byteLength / CHUNK / 8))
      assert.ok(a.cache.partialOf(blobId) != null || a.cache.has(blobId), 'answered once A had begun')
      await fetching
    } finally {
      suite.devnet.walrus.setShaping({ latencyMs: 0 })
      await stopNodes(nodes)
    }
  })

  it('detects a peer that sends corrupt chunks, completes from others, and penalizes it', async () => {
    const bytes = randomModel(4 * 1024 * 1024)
    const { blobId } = await suite.devnet.publish(bytes, { chunkSize: CHUNK })
    const nodes = await startNodes(2, join(suite.dir, 'liar'), suite.devnet)
    const [honest, downloader] = nodes as [HerdNode, HerdNode]
    const liar = await startLyingPeer(blobId, bytes)
    try {
      await honest.fetcher.fetch(blobId)
      await liar.libp2p.dial(downloader.libp2p.getMultiaddrs())
      await waitFor('the liar to join the topic', () => downloader.libp2p.services.pubsub.getSubscribers(CACHE_TOPIC).length >= 2)
      liar.announcer.added(blobId)
      const liarId = liar.libp2p.peerId.toString()
      await waitFor('both holders to be known', () => downloader.providers.providers(blobId).filter(p => p.state === 'holder').length === 2)
      const servedBefore = suite.devnet.walrus.stats.bytesServed
      const bad: number[] = []
      await downloader.fetcher.fetch(blobId, { onProgress: event => { if (event.type === 'fetch:bad-chunk') bad.push(event.index) } })
      assert.ok(bad.length >= 1, 'the bad chunk was caught')
      assert.ok(liar.served() >= 1, 'the liar was asked for chunks')
      assert.deepEqual(await cachedBytes(downloader, blobId), Buffer.from(bytes))
      assert.equal(suite.devnet.walrus.stats.bytesServed, servedBefore, 'the honest peer covered for the liar')
      const penalized = downloader.status().penalizedPeers.find(p => p.peerId === liarId)
      assert.ok(penalized != null && penalized.badChunks >= 1 && penalized.score < 0, 'the liar is scored down')
      assert.equal(downloader.status().penalizedPeers.some(p => p.peerId === honest.peerId.toString()), false)
    } finally {
      await liar.stop()
      await stopNodes(nodes)
    }
  })

  it('does not hold a finished download for a DHT lookup that is still running', async () => {
    const bytes = randomModel(512 * 1024)
    const { blobId } = await suite.devnet.publish(bytes, { chunkSize: CHUNK })
    const nodes = await startNodes(1, join(suite.dir, 'slow-dht'), suite.devnet)
    const [node] = nodes as [HerdNode]
    // A DHT that finds nothing and answers only when told to stop, as a lookup on a large or lossy network would.
    let lookups = 0
    let aborted = 0
    node.libp2p.contentRouting.findProviders = async function * (_cid, options) {
      lookups++
      // Bounded by the test whatever the caller passes.
      const signal = AbortSignal.any([AbortSignal.timeout(30_000), ...(options?.signal != null ? [options.signal] : [])])
      await new Promise(resolve => { signal.addEventListener('abort', resolve, { once: true }) })
      aborted++
      yield * []
    }
    try {
      const started = performance.now()
      await node.fetcher.fetch(blobId)
      const ms = performance.now() - started
      assert.equal(lookups, 1, 'the fetch knew no provider, so it asked the DHT')
      assert.equal(aborted, 1, 'the lookup was ended')
      // The lookup gives up by itself after 5 s: a fetch held for it would take that long.
      assert.ok(ms < 3_000, `the fetch took ${Math.round(ms)} ms`)
    } finally {
      await stopNodes(nodes)
    }
  })

  it('a download that fails tells its peers it stopped: they no longer count it as a reader', async () => {
    const { blobId } = await suite.devnet.publish(randomModel(CHUNK * 3), { chunkSize: CHUNK })
    const nodes = await startNodes(2, join(suite.dir, 'stopped'), suite.devnet, { fetch: { maxWalrusFaults: 2 } })
    const [a, b] = nodes as [HerdNode, HerdNode]
    // Every Walrus answer fails, slowly enough for B to hear that A started.
    suite.devnet.walrus.setShaping({ latencyMs: 400, failureRate: 1 })
    try {
      const failing = a.fetcher.fetch(blobId)
      await waitFor('B to hear that A is fetching', () => b.providers.providers(blobId).some(p => p.peerId === a.peerId.toString() && p.state === 'fetching'))
      await assert.rejects(failing)
      // Well inside the 10 s provider TTL (the failure comes about 4 s in): the 'dropped' announcement, not expiry.
      await waitFor('B to forget A as a reader', () => !b.providers.providers(blobId).some(p => p.peerId === a.peerId.toString()), 2_000)
    } finally {
      suite.devnet.walrus.setShaping({ latencyMs: 0, failureRate: 0 })
      await stopNodes(nodes)
    }
  })

  it('a download that outlasts the provider TTL is still counted as fetching by its peers', async () => {
    const { blobId } = await suite.devnet.publish(randomModel(CHUNK * 3), { chunkSize: CHUNK })
    // Peers forget a provider entry after ttlMs unless it is refreshed: the fetching node says it again with every digest.
    const ttlMs = 3_000
    const mesh = { digestIntervalMs: 500, providerTtlMs: ttlMs, privateNetwork: true, dhtProvide: false, allow: ['/ip4/127.0.0.1'] }
    const nodes = await startNodes(2, join(suite.dir, 'long-fetch'), suite.devnet, { mesh })
    const [a, b] = nodes as [HerdNode, HerdNode]
    // Walrus answers each read (the chunk hashes, then the chunks) after 6 s: A's download lasts past the check below, twice the TTL.
    suite.devnet.walrus.setShaping({ latencyMs: 6_000 })
    const fetching = (): boolean => b.providers.providers(blobId).some(p => p.peerId === a.peerId.toString() && p.state === 'fetching')
    const download = a.fetcher.fetch(blobId).catch(() => undefined)
    try {
      await waitFor('B to hear that A is fetching', fetching)
      const heardAt = Date.now()
      // Sampled until twice the TTL has passed since B first heard: an entry that was never refreshed is gone by then.
      while (Date.now() - heardAt < 2 * ttlMs + 1_000) {
        await new Promise(resolve => setTimeout(resolve, 200))
        assert.ok(fetching(), `B forgot A's download ${Date.now() - heardAt} ms after hearing of it (TTL ${ttlMs} ms)`)
      }
    } finally {
      await stopNodes(nodes)
      await download
      suite.devnet.walrus.setShaping({ latencyMs: 0 })
    }
  })

  it('a peer whose requests fail still counts among the Walrus readers, also once it holds the blob: this node reads only its own share', async () => {
    const chunks = 8
    const bytes = randomModel(CHUNK * chunks)
    const { blobId } = await suite.devnet.publish(bytes, { chunkSize: CHUNK })
    // The stall fallback (which would read the peer's share too) is kept out of the test's reach.
    const nodes = await startNodes(1, join(suite.dir, 'failing-reader'), suite.devnet, { fetch: { stallMs: 600_000 } })
    const [node] = nodes as [HerdNode]
    // A real peer that says it is fetching the blob and serves no blob protocol: every request of ours to it fails.
    const peer = await startSilentDownloader()
    const fromWalrus: number[] = []
    let download: Promise<unknown> = Promise.resolve()
    try {
      const peerId = await announceFetching(peer, node, blobId)
      download = node.fetcher.fetch(blobId, { onProgress: event => { if (event.type === 'fetch:chunk' && event.source === 'walrus') fromWalrus.push(event.index) } }).catch(() => undefined)
      // The peer's download began first, as it announced: it ranks first among the readers.
      const peerSince = node.providers.providers(blobId).find(p => p.peerId === peerId)?.since
      assert.ok(peerSince != null && peerSince <= Date.now(), 'the peer announced when its download began')
      const rank = downloaderOrder([{ peerId: node.peerId.toString(), since: Date.now() }, { peerId, since: peerSince }]).indexOf(node.peerId.toString())
      assert.equal(rank, 1)
      const share = walrusShareOf(rank, 2, chunks)
      const ownShare = Array.from({ length: share.end - share.start }, (_, i) => share.start + i)
      await waitFor('the node to read its share from Walrus', () => fromWalrus.length >= share.end - share.start, 30_000)
      // Room for any further read to land: one covering the whole blob lands its chunks one after another at once.
      await new Promise(resolve => setTimeout(resolve, 1_000))
      assert.deepEqual([...fromWalrus].sort((a, b) => a - b), ownShare)
      // The peer says it finished: still a reader (its share is its to serve), though its requests fail here.
      peer.announcer.added(blobId)
      await waitFor('the node to hear that the peer holds the blob', () => node.providers.providers(blobId).some(p => p.peerId === peerId && p.state === 'holder'))
      await new Promise(resolve => setTimeout(resolve, 1_000))
      assert.deepEqual([...fromWalrus].sort((a, b) => a - b), ownShare)
    } finally {
      await stopNodes(nodes)
      await download
      await peer.stop()
    }
  })

  it('a stalled download reads a silent reader\'s share from Walrus one growing run at a time, and completes', async () => {
    const chunks = 8
    const bytes = randomModel(CHUNK * chunks)
    const { blobId } = await suite.devnet.publish(bytes, { chunkSize: CHUNK })
    const nodes = await startNodes(1, join(suite.dir, 'stalled-reader'), suite.devnet, { fetch: { stallMs: 2_000 } })
    const [node] = nodes as [HerdNode]
    const peer = await startSilentDownloader()
    const fromWalrus: number[] = []
    try {
      const peerId = await announceFetching(peer, node, blobId)
      const download = node.fetcher.fetch(blobId, { onProgress: event => { if (event.type === 'fetch:chunk' && event.source === 'walrus') fromWalrus.push(event.index) } })
      await waitFor('the node to read its own share', () => fromWalrus.length >= chunks / 2, 30_000)
      const readsBefore = suite.devnet.walrus.stats.rangeRequests
      await download
      // The peer's 4 chunks in reads of 1, 2, then the 1 left (a read retried under load counts twice): a stalled node that read all it
      // could not see at once made Walrus serve 8x the blob when 8 nodes on a loaded machine stalled together.
      const reads = suite.devnet.walrus.stats.rangeRequests - readsBefore
      assert.ok(reads >= 3, `the stalled share came in ${reads} Walrus reads`)
      assert.deepEqual(await cachedBytes(node, blobId), Buffer.from(bytes))
    } finally {
      await stopNodes(nodes)
      await peer.stop()
    }
  })

  it('keeps the cache within its quota under a stream of blobs larger than it; a node with no peers does not wait to coordinate', { timeout: 60_000 }, async () => {
    const quota = 3 * 1024 * 1024
    const blobs: Array<{ blobId: BlobId, size: number }> = []
    for (let i = 0; i < 8; i++) blobs.push(await suite.devnet.publish(randomModel(900 * 1024 + i * 1000), { chunkSize: CHUNK }))
    const tooBig = await suite.devnet.publish(randomModel(quota + 1), { chunkSize: CHUNK })
    // Alone: eight fetches that each waited out a 60 s coordination window would outlast the test's 60 s timeout.
    // Fetched and never opened: no grace for a first use, or each fetch would wait for the last one's to end.
    const nodes = await startNodes(1, join(suite.dir, 'quota'), suite.devnet, { cache: { quotaBytes: quota, newBlobGraceMs: 0 }, fetch: { coordinationMs: 60_000 } })
    const [node] = nodes as [HerdNode]
    try {
      let most = 0
      for (const blob of blobs) {
        await node.fetcher.fetch(blob.blobId)
        const stats = node.cache.stats()
        most = Math.max(most, stats.bytes + stats.reservedBytes)
        assert.ok(node.cache.has(blob.blobId))
      }
      assert.ok(most <= quota, `the cache held ${most} bytes with a quota of ${quota}`)
      assert.ok(node.cache.stats().evictions >= 5, `evictions: ${node.cache.stats().evictions}`)
      await assert.rejects(node.fetcher.fetch(tooBig.blobId), { name: 'CacheFullError' })
      assert.ok(node.cache.stats().bytes <= quota)
    } finally {
      await stopNodes(nodes)
    }
  })
})

/** Connects the silent peer to `node` and has it announce it is fetching `blobId`, once `node` has heard it; its peer ID. */
async function announceFetching (peer: Awaited<ReturnType<typeof startSilentDownloader>>, node: HerdNode, blobId: BlobId): Promise<string> {
  await peer.libp2p.dial(node.libp2p.getMultiaddrs())
  const peerId = peer.libp2p.peerId.toString()
  await waitFor('the peer to join the topic', () => node.libp2p.services.pubsub.getSubscribers(CACHE_TOPIC).length >= 1)
  peer.announcer.fetching(blobId)
  await waitFor('the node to hear that the peer is fetching', () => node.providers.providers(blobId).some(p => p.peerId === peerId && p.state === 'fetching'))
  return peerId
}

/** A real libp2p peer that announces it is fetching a blob and serves no blob protocol. */
async function startSilentDownloader (): Promise<{ libp2p: MeshLibp2p, announcer: CacheAnnouncer, stop: () => Promise<void> }> {
  const libp2p = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], privateNetwork: true })
  await libp2p.start()
  const announcer = new CacheAnnouncer({
    pubsub: libp2p.services.pubsub,
    peerId: libp2p.peerId,
    providers: new ProviderIndex(),
    heldBlobIds: () => [],
    load: () => ({ downloads: 1, uploads: 0, inferQueue: 0, sessionsWarm: 0, warm: [] })
  }, { digestIntervalMs: 500 })
  announcer.start()
  return {
    libp2p,
    announcer,
    stop: async () => {
      await announcer.stop()
      await libp2p.stop()
    }
  }
}

/** A real libp2p peer that announces a blob and serves its correct hashes but corrupt chunks. */
async function startLyingPeer (blobId: BlobId, bytes: Uint8Array): Promise<{ libp2p: MeshLibp2p, announcer: CacheAnnouncer, served: () => number, stop: () => Promise<void> }> {
  const tree = chunkTreeOfBytes(bytes, CHUNK)
  const count = chunkCount(bytes.byteLength, CHUNK)
  let served = 0
  const source: ChunkSource = {
    async open (id) {
      if (id !== blobId) return undefined
      return {
        size: bytes.byteLength,
        chunkSize: CHUNK,
        chunkCount: count,
        complete: true,
        leaves: tree.leaves,
        has: () => true,
        bitfield: () => new Uint8Array(Math.ceil(count / 8)).fill(0xff),
        held: () => count,
        active: () => true,
        readChunk: async index => {
          served++
          const { start, end } = chunkRange(index, bytes.byteLength, CHUNK)
          const chunk = new Uint8Array(bytes.subarray(start, end))
          chunk[7] = (chunk[7] as number) ^ 0xff
          return chunk
        },
        release: () => {}
      }
    }
  }
  const libp2p = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], privateNetwork: true })
  await libp2p.start()
  const server = new BlobServer({ registrar: { handle: async (p, h, o) => { await libp2p.handle(p, h, o) }, unhandle: async p => { await libp2p.unhandle(p) } }, source })
  await server.start()
  const announcer = new CacheAnnouncer({
    pubsub: libp2p.services.pubsub,
    peerId: libp2p.peerId,
    providers: new ProviderIndex(),
    heldBlobIds: () => [blobId],
    load: () => ({ downloads: 0, uploads: 0, inferQueue: 0, sessionsWarm: 0, warm: [] })
  }, { digestIntervalMs: 1_000 })
  announcer.start()
  return {
    libp2p,
    announcer,
    served: () => served,
    stop: async () => {
      await announcer.stop()
      await server.stop()
      await libp2p.stop()
    }
  }
}
