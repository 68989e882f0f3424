import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { request } from 'undici'
import { ApiServer } from '../../src/api/server.js'
import { blobIdFromBytes, type BlobId } from '../../src/blob/blob-id.js'
import { WalrusHttpClient } from '../../src/walrus/http-client.js'
import { meshForSuite, randomModel } from '../helpers/mesh.js'

describe('the node HTTP API', () => {
  let bytes: Uint8Array
  let blobId: BlobId
  const mesh = meshForSuite({
    nodes: 1,
    setup: async ({ devnet }) => {
      bytes = randomModel(700 * 1024 + 17)
      blobId = (await devnet.publish(bytes, { chunkSize: 64 * 1024 })).blobId
    }
  })
  let api: ApiServer

  before(async () => {
    api = await mesh.startApi()
  })

  it('listens on loopback and reports status', async () => {
    assert.match(api.url, /^http:\/\/127\.0\.0\.1:\d+$/)
    const status = await (await request(`${api.url}/status`)).body.json() as any
    assert.equal(status.peerId, mesh.node.peerId.toString())
    assert.equal(typeof status.peers, 'number')
    assert.deepEqual(Object.keys(status.cache).slice(0, 3), ['blobs', 'bytes', 'quotaBytes'])
    for (const key of ['localHits', 'peerHits', 'walrusHits', 'bytesFromPeers', 'bytesFromWalrus']) assert.equal(typeof status.fetch[key], 'number', key)
  })

  it('serves a registered blob as the Walrus aggregator does, whole and by range, through the cache', async () => {
    const whole = await request(`${api.url}/v1/blobs/${blobId}`)
    assert.equal(whole.statusCode, 200)
    assert.equal(whole.headers['content-length'], String(bytes.byteLength))
    assert.deepEqual(Buffer.from(await whole.body.arrayBuffer()), Buffer.from(bytes))
    const range = await request(`${api.url}/v1/blobs/${blobId}`, { headers: { range: 'bytes=65530-131080' } })
    assert.equal(range.statusCode, 206)
    assert.equal(range.headers['content-range'], `bytes 65530-131080/${bytes.byteLength}`)
    assert.deepEqual(Buffer.from(await range.body.arrayBuffer()), Buffer.from(bytes.subarray(65530, 131081)))
    const suffix = await request(`${api.url}/v1/blobs/${blobId}`, { headers: { range: 'bytes=-10' } })
    assert.deepEqual(Buffer.from(await suffix.body.arrayBuffer()), Buffer.from(bytes.subarray(bytes.byteLength - 10)))
    // The same client code that reads Walrus reads the node.
    const walrusClient = new WalrusHttpClient({ aggregator: api.url })
    try {
      assert.deepEqual(Buffer.from(await walrusClient.readRange(blobId, { start: 5, end: 9 })), Buffer.from(bytes.subarray(5, 10)))
    } finally {
      await walrusClient.close()
    }
    const status = mesh.node.status()
    assert.equal(status.fetch.walrusHits, 1)
    assert.ok(status.fetch.localHits >= 3)
  })

  it('answers bad requests with a clear JSON error', async () => {
    const bad = await request(`${api.url}/v1/blobs/not-a-blob-id`)
    assert.equal(bad.statusCode, 400)
    assert.equal(((await bad.body.json()) as any).error.name, 'InvalidBlobIdError')
    const unsatisfiable = await request(`${api.url}/v1/blobs/${blobId}`, { headers: { range: `bytes=${bytes.byteLength}-` } })
    assert.equal(unsatisfiable.statusCode, 416)
    assert.equal(unsatisfiable.headers['content-range'], `bytes */${bytes.byteLength}`)
    await unsatisfiable.body.dump()
    const multi = await request(`${api.url}/v1/blobs/${blobId}`, { headers: { range: 'bytes=0-1,5-6' } })
    assert.equal(multi.statusCode, 416)
    await multi.body.dump()
    const unknown = await request(`${api.url}/v1/blobs/${'A'.repeat(43)}`)
    assert.equal(unknown.statusCode, 404)
    await unknown.body.dump()
  })

  it('relays a blob with no registry entry from the aggregator without caching it', async () => {
    const path = join(mesh.dir, 'unregistered.bin')
    const raw = randomModel(5000)
    await writeFile(path, raw)
    const client = new WalrusHttpClient({ aggregator: mesh.devnet.walrus.url, publisher: mesh.devnet.walrus.url })
    const { blobId: rawId } = await client.putFile(path)
    await client.close()
    const response = await request(`${api.url}/v1/blobs/${rawId}`)
    assert.equal(response.statusCode, 200)
    assert.equal(response.headers['x-herd-source'], 'walrus-passthrough')
    assert.deepEqual(Buffer.from(await response.body.arrayBuffer()), Buffer.from(raw))
    assert.equal(mesh.node.cache.has(rawId), false)
  })

  it('pins and unpins', async () => {
    const pin = await request(`${api.url}/v1/blobs/${blobId}/pin`, { method: 'POST' })
    assert.equal(pin.statusCode, 200)
    assert.deepEqual(await pin.body.json(), { blobId, pinned: true, size: bytes.byteLength })
    assert.equal(mesh.node.cache.entry(blobId)?.pinned, true)
    const unpin = await request(`${api.url}/v1/blobs/${blobId}/pin`, { method: 'DELETE' })
    assert.deepEqual(await unpin.body.json(), { blobId, pinned: false })
    assert.equal(mesh.node.cache.entry(blobId)?.pinned, false)
    const missing = await request(`${api.url}/v1/blobs/${blobIdFromBytes(randomBytes(32))}/pin`, { method: 'DELETE' })
    assert.equal(missing.statusCode, 404)
    await missing.body.dump()
  })

  it('exposes Prometheus metrics, herd\'s and libp2p\'s', async () => {
    const response = await request(`${api.url}/metrics`)
    assert.equal(response.statusCode, 200)
    const text = await response.body.text()
    assert.match(text, /^herd_cache_bytes \d+/m)
    assert.match(text, /^herd_fetch_hits_total\{source="walrus"\} 1/m)
    assert.match(text, /^libp2p_\w+/m)
  })
})
