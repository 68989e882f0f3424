import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { blobIdFromBytes, type BlobId } from '../../src/blob/blob-id.js'
import { BlobCache } from '../../src/blob/cache/index.js'
import { chunkTreeOfBytes, encodeChunkHashes, toHex } from '../../src/blob/chunk-tree.js'
import { BlobClient } from '../../src/mesh/blob-client.js'
import { UnregisteredBlobError } from '../../src/mesh/errors.js'
import type { BlobDescription, FetchProgress } from '../../src/mesh/fetch-types.js'
import { Fetcher } from '../../src/mesh/fetcher.js'
import { PeerScores } from '../../src/mesh/peer-scores.js'
import { ProviderIndex } from '../../src/mesh/provider-index.js'
import type { ByteRange } from '../../src/walrus/types.js'
import { tempDir } from '../helpers/devnet.js'

const CHUNK = 1024

/** A blob, its chunk hashes and their registry description; the hashes are a blob of their own, as on Walrus. */
function makeBlob (size: number): { blobId: BlobId, bytes: Uint8Array, description: BlobDescription, hashes: Uint8Array } {
  const bytes = new Uint8Array(randomBytes(size))
  const tree = chunkTreeOfBytes(bytes, CHUNK)
  const blobId = blobIdFromBytes(randomBytes(32))
  const chunkHashesBlobId = blobIdFromBytes(randomBytes(32))
  return { blobId, bytes, hashes: encodeChunkHashes(tree.leaves), description: { blobId, size, chunkSize: CHUNK, chunkRoot: toHex(tree.root), chunkHashesBlobId } }
}

/** Walrus out of reach here: its range reads answered from memory, counted. */
function memoryWalrus (blobs: Map<string, Uint8Array>): { readRange: (blobId: string, range: ByteRange) => Promise<Uint8Array>, reads: number } {
  const walrus = {
    reads: 0,
    readRange: async (blobId: string, range: ByteRange): Promise<Uint8Array> => {
      walrus.reads++
      const bytes = blobs.get(blobId)
      if (bytes == null) throw Object.assign(new Error(`no blob ${blobId}`), { name: 'BlobNotFoundError' })
      return bytes.slice(range.start, range.end + 1)
    }
  }
  return walrus
}

/** A started cache in `dir` with room for one of two 10-chunk blobs, and a Walrus holding both. */
async function roomForOne (dir: string): Promise<{ tight: BlobCache, first: ReturnType<typeof makeBlob>, second: ReturnType<typeof makeBlob>, reads: ReturnType<typeof memoryWalrus> }> {
  const tight = new BlobCache({ dir: join(dir, 'cache'), quotaBytes: 16 * CHUNK })
  await tight.start()
  const first = makeBlob(10 * CHUNK)
  const second = makeBlob(10 * CHUNK)
  return { tight, first, second, reads: memoryWalrus(new Map([first, second].flatMap(b => [[b.blobId, b.bytes], [b.description.chunkHashesBlobId, b.hashes]]))) }
}

describe('Fetcher with fakes of its components', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let cache: BlobCache
  const blob = makeBlob(10 * CHUNK + 17)
  const walrus = memoryWalrus(new Map([[blob.blobId, blob.bytes], [blob.description.chunkHashesBlobId, blob.hashes]]))
  /** For each "fetching" announcement, whether the blob's room was reserved by then (its partial open). */
  const announced: Array<{ blobId: string, withRoom: boolean }> = []
  const described: string[] = []
  const registry = {
    describe: async (blobId: BlobId): Promise<BlobDescription> => {
      described.push(blobId)
      if (blobId !== blob.blobId) throw new UnregisteredBlobError(`no entry for ${blobId}`)
      return blob.description
    }
  }
  /** The provider index, its answers counted: one download asks once per scheduling pass. */
  const providers = new ProviderIndex()
  let providerCalls = 0
  const counted = Object.assign(Object.create(providers) as ProviderIndex, {
    providers: (blobId: string) => { providerCalls++; return providers.providers(blobId) }
  })
  let passes = 0
  let fetcher: Fetcher

  before(async () => {
    dir = await tempDir()
    cache = new BlobCache({ dir: join(dir.path, 'cache'), quotaBytes: 1024 * 1024 })
    await cache.start()
    fetcher = new Fetcher({
      selfId: '12D3KooWSelf',
      cache,
      client: new BlobClient({ dialProtocol: async () => { throw new Error('no peers here') } }),
      providers: counted,
      scores: new PeerScores(),
      walrus,
      registry,
      announceFetching: blobId => { announced.push({ blobId, withRoom: cache.partialOf(blobId) != null }) },
      // Asked once per scheduling pass while the coordination window is open (a long one here): the count of passes.
      meshPeers: () => { passes++; return 0 }
    }, { tuning: { hashesHedgeMs: 0, coordinationMs: 60_000 } })
    fetcher.start()
  })
  after(async () => {
    await fetcher.stop()
    await cache.stop()
    await dir[Symbol.asyncDispose]()
  })

  it('coalesces two opens into one download from Walrus, describes the blob once, and asks the provider index once a pass', async () => {
    const events: FetchProgress[] = []
    const [a, b] = await Promise.all([
      fetcher.open(blob.blobId, { onProgress: event => { events.push(event) } }),
      fetcher.open(blob.blobId)
    ])
    try {
      assert.deepEqual(Buffer.from(await a.read(0, a.size)), Buffer.from(blob.bytes))
      assert.equal(b.size, blob.bytes.byteLength)
    } finally {
      a.release()
      b.release()
    }
    assert.deepEqual(described, [blob.blobId])
    // With room to spare, announced at once, before the chunk hashes are read: nodes starting together see each other meanwhile.
    assert.deepEqual(announced, [{ blobId: blob.blobId, withRoom: false }], 'announced once, before its download opened')
    assert.ok(passes > 0)
    // One for the chunk hashes, one for the DHT decision, one per pass, and one once it is in (do peers still fetch it?).
    assert.ok(providerCalls <= passes + 3, `${providerCalls} provider lookups in ${passes} passes`)
    const done = events.find(e => e.type === 'fetch:done')
    assert.deepEqual(done, { type: 'fetch:done', blobId: blob.blobId, size: blob.bytes.byteLength, source: 'fetched', bytesFromPeers: 0, bytesFromWalrus: blob.bytes.byteLength, peers: [] })
    const lastChunk = events.filter(e => e.type === 'fetch:chunk').at(-1)
    assert.equal(lastChunk?.type === 'fetch:chunk' ? lastChunk.bytesFromWalrus : -1, blob.bytes.byteLength)
  })

  it('tells a caller of a cached blob fetch:done with source local', async () => {
    const events: FetchProgress[] = []
    const handle = await fetcher.open(blob.blobId, { onProgress: event => { events.push(event) } })
    handle.release()
    assert.deepEqual(events, [{ type: 'fetch:done', blobId: blob.blobId, size: blob.bytes.byteLength, source: 'local', bytesFromPeers: 0, bytesFromWalrus: 0, peers: [] }])
  })

  it('fetches again a blob evicted before it could be opened, and names the loss when it keeps happening', async () => {
    const realOpen = cache.open.bind(cache)
    let lost = 1
    cache.open = async (blobId, options) => lost-- > 0 ? undefined : realOpen(blobId, options)
    try {
      const handle = await fetcher.open(blob.blobId)
      handle.release()
      cache.open = async () => undefined
      await assert.rejects(fetcher.open(blob.blobId), { name: 'BlobEvictedError' })
    } finally {
      cache.open = realOpen
    }
  })

  it('announces a download that waits for room in its cache only once the room is there: until then it cannot read a share', async () => {
    await using small = await tempDir()
    // Room for one of these blobs: the first, open, holds it until released.
    const { tight, first, second, reads } = await roomForOne(small.path)
    const steps: string[] = []
    const roomWaits: number[] = []
    const fetching = new Fetcher({
      selfId: '12D3KooWSelf',
      cache: tight,
      client: new BlobClient({ dialProtocol: async () => { throw new Error('no peers here') } }),
      providers: new ProviderIndex(),
      scores: new PeerScores(),
      walrus: reads,
      registry: { describe: async (blobId: BlobId) => blobId === first.blobId ? first.description : second.description },
      announceFetching: blobId => { steps.push(blobId === first.blobId ? 'first announced' : 'second announced') },
      onTiming: timing => { if (timing.kind === 'cache-room-wait') roomWaits.push(timing.seconds) },
      meshPeers: () => 0
    }, { tuning: { hashesHedgeMs: 0 } })
    fetching.start()
    try {
      const held = await fetching.open(first.blobId)
      const waiting = fetching.open(second.blobId)
      // Long enough for the second download to reach its wait for room, on a loaded machine too.
      await new Promise(resolve => setTimeout(resolve, 300))
      steps.push('first released')
      held.release()
      ;(await waiting).release()
      assert.deepEqual(steps, ['first announced', 'first released', 'second announced'])
      // Only the second download waited, from its wait's start to the release 300 ms on.
      assert.equal(roomWaits.length, 1, `room waits timed: ${JSON.stringify(roomWaits)}`)
      assert.ok((roomWaits[0] as number) > 0.05 && (roomWaits[0] as number) < 30, `waited ${roomWaits[0]} s for room`)
    } finally {
      await fetching.stop()
      await tight.stop()
    }
  })

  it('takes its announcement back when the room it saw goes to another download while it reads the chunk hashes, and announces again once it has room', async () => {
    await using small = await tempDir()
    const { tight, first, second, reads } = await roomForOne(small.path)
    let releaseHashes: (() => void) | undefined
    const hashesHeld = new Promise<void>(resolve => { releaseHashes = resolve })
    let hashesAsked: (() => void) | undefined
    const hashesRead = new Promise<void>(resolve => { hashesAsked = resolve })
    const steps: string[] = []
    const name = (blobId: string): string => blobId === first.blobId ? 'first' : 'second'
    const fetching = new Fetcher({
      selfId: '12D3KooWSelf',
      cache: tight,
      client: new BlobClient({ dialProtocol: async () => { throw new Error('no peers here') } }),
      providers: new ProviderIndex(),
      scores: new PeerScores(),
      walrus: {
        readRange: async (blobId, range) => {
          if (blobId === second.description.chunkHashesBlobId) {
            hashesAsked?.()
            await hashesHeld
          }
          return reads.readRange(blobId, range)
        }
      },
      registry: { describe: async (blobId: BlobId) => blobId === first.blobId ? first.description : second.description },
      announceFetching: blobId => { steps.push(`${name(blobId)} announced`) },
      withdrawFetching: blobId => { steps.push(`${name(blobId)} withdrawn`) },
      meshPeers: () => 0
    }, { tuning: { hashesHedgeMs: 0 } })
    fetching.start()
    try {
      // The second download sees room and announces, then reads its chunk hashes while the first takes the room.
      const waiting = fetching.open(second.blobId)
      await hashesRead
      const held = await fetching.open(first.blobId)
      releaseHashes?.()
      for (let waited = 0; !steps.includes('second withdrawn') && waited < 10_000; waited += 20) await new Promise(resolve => setTimeout(resolve, 20))
      steps.push('first released')
      held.release()
      ;(await waiting).release()
      assert.deepEqual(steps, ['second announced', 'first announced', 'second withdrawn', 'first released', 'second announced'])
    } finally {
      await fetching.stop()
      await tight.stop()
    }
  })

  it('does not stretch the first window past the configured one for a blob one round of reads covers, however late gossip is', async () => {
    // Gossip 5 s late stretches the window to 10 s; nothing timed here yet; peers subscribed, none reading this blob.
    const small = makeBlob(3 * CHUNK)
    const reads = memoryWalrus(new Map([[small.blobId, small.bytes], [small.description.chunkHashesBlobId, small.hashes]]))
    const alone = new Fetcher({
      selfId: '12D3KooWSelf',
      cache,
      client: new BlobClient({ dialProtocol: async () => { throw new Error('no peers here') } }),
      providers: new ProviderIndex(),
      scores: new PeerScores(),
      walrus: reads,
      registry: { describe: async () => small.description },
      announceFetching: () => {},
      gossipDelayMs: () => 5_000,
      meshPeers: () => 1
    }, { tuning: { hashesHedgeMs: 0, coordinationMs: 300 } })
    alone.start()
    try {
      // Bounded well short of the stretched window (10 s) and far past the configured one (300 ms) on a loaded machine.
      const handle = await alone.open(small.blobId, { signal: AbortSignal.timeout(5_000) })
      handle.release()
      assert.equal(alone.counters.bytesFromWalrus, small.bytes.byteLength + small.hashes.byteLength)
    } finally {
      await alone.stop()
    }
  })

  it('passes the registry\'s UnregisteredBlobError through, without reading Walrus', async () => {
    const reads = walrus.reads
    await assert.rejects(fetcher.open(blobIdFromBytes(randomBytes(32))), { name: 'UnregisteredBlobError' })
    assert.equal(walrus.reads, reads)
  })
})
