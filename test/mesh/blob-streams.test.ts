import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { blobIdFromBytes } from '../../src/blob/blob-id.js'
import { BlobClient } from '../../src/mesh/blob-client.js'
import { BlobServer } from '../../src/mesh/blob-server.js'
import type { ChunkSource } from '../../src/mesh/chunk-source.js'
import { BLOB_PROTOCOL, MAX_BLOB_REQUEST_BYTES } from '../../src/mesh/constants.js'
import { encodeChunk } from '../../src/mesh/chunk-message.js'
import { framedStream } from '../../src/mesh/length-prefixed.js'
import { createMeshLibp2p, type MeshLibp2p } from '../../src/mesh/libp2p.js'
import { BlobRequest, BlobResponse } from '../../src/mesh/pb/blob-exchange.js'
import { waitFor } from '../helpers/mesh.js'

const CHUNK = 1024
const CHUNKS = 10

/**
 * A blob held in memory: the cache is beside the point here, and the count of
 * opens is what the server's reuse of a stream is meant to cut.
 */
function memorySource (blobId: string, data: Buffer): ChunkSource & { opens: number } {
  const source = {
    opens: 0,
    async open (id: string) {
      if (id !== blobId) return undefined
      source.opens++
      return {
        size: data.byteLength,
        chunkSize: CHUNK,
        chunkCount: CHUNKS,
        complete: true,
        leaves: Array.from({ length: CHUNKS }, () => new Uint8Array(32)),
        has: (index: number) => index >= 0 && index < CHUNKS,
        bitfield: () => new Uint8Array([0xff, 0xc0]),
        readChunk: async (index: number) => data.subarray(index * CHUNK, (index + 1) * CHUNK),
        release: () => {}
      }
    }
  }
  return source
}

async function node (): Promise<MeshLibp2p> {
  const libp2p = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], privateNetwork: true })
  await libp2p.start()
  return libp2p
}

/** Blob streams still open both ways. */
function blobStreams (libp2p: MeshLibp2p): number {
  return libp2p.getConnections().flatMap(connection => connection.streams)
    .filter(stream => stream.protocol === BLOB_PROTOCOL && stream.status === 'open' && stream.remoteWriteStatus === 'writable').length
}

describe('blob exchange: several requests on one stream', { timeout: 60_000 }, () => {
  const blobId = blobIdFromBytes(randomBytes(32))
  const data = randomBytes(CHUNK * CHUNKS)
  let holder: MeshLibp2p
  let asker: MeshLibp2p
  let oldHolder: MeshLibp2p
  let server: BlobServer
  let source: ReturnType<typeof memorySource>
  const oldRequests: number[] = []

  before(async () => {
    [holder, asker, oldHolder] = await Promise.all([node(), node(), node()])
    source = memorySource(blobId, data)
    // A short idle timeout, so one test can watch the server end a stream the client keeps.
    server = new BlobServer({ registrar: holder, source }, { idleTimeoutMs: 1_500 })
    await server.start()
    // A server from before `more`: answers one request and closes the stream.
    await oldHolder.handle(BLOB_PROTOCOL, async (stream: Stream) => {
      const pb = framedStream(stream, { maxDataLength: MAX_BLOB_REQUEST_BYTES })
      const request = await pb.readMessage(BlobRequest)
      oldRequests.push(request.first)
      await pb.writeMessage({ status: BlobResponse.Status.OK, message: '', size: BigInt(data.byteLength), chunkSize: CHUNK, complete: true, hashes: new Uint8Array(0), have: new Uint8Array(0), chunks: 1 }, BlobResponse)
      const body = data.subarray(request.first * CHUNK, (request.first + 1) * CHUNK)
      await pb.write(encodeChunk(request.first, body))
      await stream.close()
    })
    await asker.dial(holder.getMultiaddrs())
    await asker.dial(oldHolder.getMultiaddrs())
  })

  after(async () => {
    await server.stop()
    await Promise.all([asker.stop(), holder.stop(), oldHolder.stop()])
  })

  it('sends a run of requests to one peer on one stream, and opens the blob once for them', async () => {
    const client = new BlobClient({ dialProtocol: async (peer, protocol, options) => asker.dialProtocol(peer, protocol, options) })
    const signal = AbortSignal.timeout(20_000)
    assert.equal((await client.hashes(holder.peerId, blobId, { signal })).hashes.byteLength, CHUNKS * 32)
    for (const first of [0, 4, 8]) {
      const got: Buffer[] = []
      const received = await client.chunks(holder.peerId, blobId, first, 2, async (_, piece) => { got.push(Buffer.from(piece.subarray())) }, { signal })
      assert.deepEqual(received, [first, first + 1])
      assert.deepEqual(Buffer.concat(got), data.subarray(first * CHUNK, (first + 2) * CHUNK))
    }
    assert.equal(client.streamsOpened, 1)
    assert.equal(server.stats.requests, 4)
    assert.equal(server.stats.blobsOpened, 1)
    assert.equal(source.opens, 1)
  })

  it('dials a new stream once the server has ended the one kept', async () => {
    const client = new BlobClient({ dialProtocol: async (peer, protocol, options) => asker.dialProtocol(peer, protocol, options) }, { keepMs: 30_000 })
    const signal = AbortSignal.timeout(20_000)
    await client.chunks(holder.peerId, blobId, 0, 1, async () => {}, { signal })
    await waitFor('the server to end the idle stream', () => blobStreams(asker) === 0)
    assert.deepEqual(await client.chunks(holder.peerId, blobId, 1, 1, async () => {}, { signal }), [1])
    assert.equal(client.streamsOpened, 2)
  })

  it('asks a server that does not set `more` one request per stream', async () => {
    const client = new BlobClient({ dialProtocol: async (peer, protocol, options) => asker.dialProtocol(peer, protocol, options) })
    const signal = AbortSignal.timeout(20_000)
    for (const first of [2, 3]) {
      const got: Buffer[] = []
      assert.deepEqual(await client.chunks(oldHolder.peerId, blobId, first, 1, async (_, piece) => { got.push(Buffer.from(piece.subarray())) }, { signal }), [first])
      assert.deepEqual(Buffer.concat(got), data.subarray(first * CHUNK, (first + 1) * CHUNK))
    }
    assert.deepEqual(oldRequests, [2, 3])
    assert.equal(client.streamsOpened, 2)
  })

  it('serves a client that asks once and closes its side, as older clients do', async () => {
    const before = { requests: server.stats.requests, opens: source.opens }
    const client = new BlobClient({ dialProtocol: async (peer, protocol, options) => asker.dialProtocol(peer, protocol, options) }, { maxKeptPerPeer: 0 })
    const signal = AbortSignal.timeout(20_000)
    await client.chunks(holder.peerId, blobId, 5, 1, async () => {}, { signal })
    await client.chunks(holder.peerId, blobId, 6, 1, async () => {}, { signal })
    assert.equal(client.streamsOpened, 2)
    assert.equal(server.stats.requests - before.requests, 2)
    assert.equal(source.opens - before.opens, 2)
    await waitFor('both streams to end', () => blobStreams(holder) === 0)
    assert.equal(server.stats.uploads, 0)
  })
})
