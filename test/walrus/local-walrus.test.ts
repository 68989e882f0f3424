import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { describe, it } from 'node:test'
import { BlobIdComputer } from '../../src/blob/blob-id-computer.js'
import { blobIdFromBytes } from '../../src/blob/blob-id.js'
import { WalrusHttpClient } from '../../src/walrus/http-client.js'
import { LocalStoreMismatchError } from '../../src/walrus/local/disk-store.js'
import { startLocalWalrus, tempDir } from '../helpers/devnet.js'

async function json (response: Response): Promise<any> {
  return response.json()
}

function client (url: string, extra: Partial<ConstructorParameters<typeof WalrusHttpClient>[0]> = {}): WalrusHttpClient {
  return new WalrusHttpClient({ publisher: url, aggregator: url, retryBaseDelayMs: 5, retryMaxDelayMs: 20, ...extra })
}

describe('local Walrus over HTTP', () => {
  it('stores and serves a blob under the ID the encoder gives', async () => {
    await using dir = await tempDir()
    const walrus = await startLocalWalrus(dir.path)
    const computer = new BlobIdComputer({ nShards: 10 })
    const http = client(walrus.url)
    try {
      const bytes = randomBytes(300_000)
      const stored = await http.putBytes(bytes, { epochs: 3 })
      assert.equal(stored.status, 'newlyCreated')
      assert.equal(stored.blobId, (await computer.computeBytes(bytes)).blobId)
      assert.equal(stored.size, bytes.length)
      assert.match(stored.objectId ?? '', /^0x[0-9a-f]{64}$/)
      assert.equal(stored.endEpoch, 4)
      await http.getToFile(stored.blobId, join(dir.path, 'out'))
      assert.deepEqual(await readFile(join(dir.path, 'out')), bytes)
      const piece = await http.readRange(stored.blobId, { start: 1000, end: 1999 })
      assert.deepEqual(Buffer.from(piece), bytes.subarray(1000, 2000))
      await http.getToFile(stored.blobId, join(dir.path, 'range'), { range: { start: 10, end: 20 } })
      assert.deepEqual(await readFile(join(dir.path, 'range')), bytes.subarray(10, 21))
      assert.deepEqual((await readdir(dir.path)).filter(name => name.endsWith('.part')), [], 'no temp file left')

      const again = await http.putBytes(bytes)
      assert.equal(again.status, 'alreadyCertified')
      assert.equal(again.blobId, stored.blobId)
      const stats = walrus.stats
      assert.equal(stats.newlyCreated, 1)
      assert.equal(stats.alreadyCertified, 1)
      assert.equal(stats.bytesServed, bytes.length + 1000 + 11)
      assert.deepEqual(stats.stored, { blobs: 1, bytes: bytes.length })
      const overHttp = await json((await fetch(`${walrus.url}/herd/v1/stats`)))
      assert.equal(overHttp.bytesServed, stats.bytesServed)
    } finally {
      await Promise.all([http.close(), computer.stop(), walrus.stop()])
    }
  })

  it('answers ranges, malformed requests and unknown blobs with the real status codes', async () => {
    await using dir = await tempDir()
    const walrus = await startLocalWalrus(dir.path, { maxBlobBytes: 64 * 1024 })
    const http = client(walrus.url)
    try {
      const bytes = randomBytes(5000)
      const { blobId } = await http.putBytes(bytes)
      const get = async (path: string, headers: Record<string, string> = {}): Promise<Response> => fetch(`${walrus.url}${path}`, { headers })

      const partial = await get(`/v1/blobs/${blobId}`, { range: 'bytes=100-199' })
      assert.equal(partial.status, 206)
      assert.equal(partial.headers.get('content-range'), 'bytes 100-199/5000')
      assert.deepEqual(Buffer.from(await partial.arrayBuffer()), bytes.subarray(100, 200))
      const clamped = await get(`/v1/blobs/${blobId}`, { range: 'bytes=4990-9999' })
      assert.equal(clamped.status, 206)
      assert.equal(clamped.headers.get('content-range'), 'bytes 4990-4999/5000')
      await clamped.arrayBuffer()
      for (const range of ['bytes=5000-5001', 'bytes=10-5', 'bytes=10-', 'bytes=-10', 'bytes=0-1,5-6', 'items=0-1']) {
        const response = await get(`/v1/blobs/${blobId}`, { range })
        assert.equal(response.status, 416, range)
        assert.equal((await json(response)).error.details[0].reason, 'INVALID_BYTE_RANGE')
      }
      const whole = await get(`/v1/blobs/${blobId}`)
      assert.equal(whole.status, 200)
      assert.equal(whole.headers.get('etag'), blobId)
      assert.equal(whole.headers.get('access-control-allow-origin'), '*')
      assert.equal(whole.headers.get('accept-ranges'), null)
      await whole.arrayBuffer()

      const byteRange = await get(`/v1/blobs/${blobId}/byte-range?start=10&length=5`)
      assert.equal(byteRange.status, 200)
      assert.equal(byteRange.headers.get('etag'), `${blobId}-10-5`)
      assert.deepEqual(Buffer.from(await byteRange.arrayBuffer()), bytes.subarray(10, 15))
      assert.equal((await get(`/v1/blobs/${blobId}/byte-range?start=10&length=0`)).status, 400)
      assert.equal((await get(`/v1/blobs/${blobId}/byte-range?start=4999&length=2`)).status, 400)

      const unknown = await get(`/v1/blobs/${blobIdFromBytes(new Uint8Array(32))}`)
      assert.equal(unknown.status, 404)
      assert.equal((await json(unknown)).error.details[0].reason, 'BLOB_NOT_FOUND')
      await assert.rejects(http.getToFile(blobIdFromBytes(new Uint8Array(32)), join(dir.path, 'x')), { name: 'BlobNotFoundError' })
      assert.equal((await get('/v1/blobs/not-a-blob-id')).status, 400)
      assert.equal((await get(`/v1/blobs/${blobId.slice(0, 42)}B`)).status, 400)

      const put = async (query: string, body: any, init: RequestInit = {}): Promise<Response> =>
        fetch(`${walrus.url}/v1/blobs${query}`, { method: 'PUT', body, ...init })
      const unknownParam = await put('?colour=blue', 'x')
      assert.equal(unknownParam.status, 400)
      assert.match((await json(unknownParam)).error.message, /colour/)
      const persistence = await put('?permanent=true&deletable=true', 'x')
      assert.equal(persistence.status, 400)
      assert.equal((await json(persistence)).error.details[0].reason, 'INVALID_BLOB_PERSISTENCE')
      assert.equal((await put('?epochs=0', 'x')).status, 400)
      assert.equal((await put('?epochs=54', 'x')).status, 400)
      assert.equal((await put('?send_object_to=0x1&share=true', 'x')).status, 400)
      const ok = await put('?epochs=2&permanent=true&send_object_to=0xabc', 'x')
      assert.equal(ok.status, 200)
      assert.equal((await json(ok)).newlyCreated.blobObject.deletable, false)

      await assert.rejects(http.putBytes(randomBytes(64 * 1024 + 1)), (err: any) => err.name === 'WalrusRequestError' && err.status === 413)
      // Without a Content-Length the limit is enforced while streaming.
      const chunked = await put('', Readable.toWeb(Readable.from([randomBytes(40_000), randomBytes(40_000)])) as any, { duplex: 'half' } as RequestInit)
      assert.equal(chunked.status, 413)
      assert.equal(walrus.stats.stored.blobs, 2, 'rejected uploads store nothing')
      assert.deepEqual(await readdir(join(dir.path, 'tmp')), [], 'rejected uploads leave no temp file')
    } finally {
      await Promise.all([http.close(), walrus.stop()])
    }
  })

  it('keeps blobs across a restart and drops what a crash half wrote', async () => {
    await using dir = await tempDir()
    let walrus = await startLocalWalrus(dir.path)
    const http1 = client(walrus.url)
    const bytes = randomBytes(20_000)
    const { blobId } = await http1.putBytes(bytes)
    const other = await http1.putBytes(randomBytes(1000))
    await http1.close()
    await walrus.stop()

    // What a crash could leave: data with no record, a record whose data is short, temp files.
    const blobs = join(dir.path, 'blobs')
    const orphan = blobIdFromBytes(randomBytes(32))
    await writeFile(join(blobs, orphan), 'orphan')
    await writeFile(join(blobs, other.blobId), 'short')
    await writeFile(join(blobs, `${blobId}.json.123.tmp`), '{')
    await writeFile(join(dir.path, 'tmp', 'upload-1'), 'partial')

    walrus = await startLocalWalrus(dir.path)
    const http2 = client(walrus.url)
    try {
      await http2.getToFile(blobId, join(dir.path, 'out'))
      assert.deepEqual(await readFile(join(dir.path, 'out')), bytes)
      await assert.rejects(http2.readRange(other.blobId, { start: 0, end: 1 }), { name: 'BlobNotFoundError' })
      await assert.rejects(http2.readRange(orphan, { start: 0, end: 1 }), { name: 'BlobNotFoundError' })
      assert.deepEqual((await readdir(blobs)).sort(), [blobId, `${blobId}.json`].sort())
      assert.deepEqual(walrus.stats.stored, { blobs: 1, bytes: bytes.length })
    } finally {
      await http2.close()
      await walrus.stop()
    }
    await assert.rejects(startLocalWalrus(dir.path, { nShards: 11 }), (err: Error) => err instanceof LocalStoreMismatchError)
  })

  it('takes concurrent uploads of the same blob safely', async () => {
    await using dir = await tempDir()
    const walrus = await startLocalWalrus(dir.path)
    const http = client(walrus.url)
    try {
      const bytes = randomBytes(200_000)
      const results = await Promise.all(Array.from({ length: 6 }, async () => http.putBytes(bytes)))
      assert.equal(new Set(results.map(r => r.blobId)).size, 1)
      assert.equal(results.filter(r => r.status === 'newlyCreated').length, 1)
      assert.equal(results.filter(r => r.status === 'alreadyCertified').length, 5)
      const piece = await http.readRange(results[0]!.blobId, { start: 0, end: bytes.length - 1 })
      assert.deepEqual(Buffer.from(piece), bytes)
      assert.deepEqual(walrus.stats.stored, { blobs: 1, bytes: bytes.length })
    } finally {
      await Promise.all([http.close(), walrus.stop()])
    }
  })

  it('shapes itself like a distant origin: failures, latency and bandwidth', async () => {
    await using dir = await tempDir()
    const walrus = await startLocalWalrus(dir.path, { seed: 7 })
    const http = client(walrus.url, { retries: 2 })
    try {
      const bytes = randomBytes(200_000)
      const { blobId } = await http.putBytes(bytes)

      walrus.setShaping({ failureRate: 1 })
      await assert.rejects(http.readRange(blobId, { start: 0, end: 9 }), (err: any) => err.name === 'RetryableWalrusError' && err.status === 503)
      assert.equal(walrus.stats.failuresInjected, 3, 'one try and two retries')
      await assert.rejects(http.putBytes(randomBytes(10)), (err: any) => err.name === 'RetryableWalrusError' && err.status === 500)

      const patient = client(walrus.url, { retries: 30 })
      const set = await fetch(`${walrus.url}/herd/v1/shaping`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ failureRate: 0.5 }) })
      assert.equal((await json(set)).failureRate, 0.5)
      const before = walrus.stats.failuresInjected
      for (let i = 0; i < 10; i++) assert.equal((await patient.readRange(blobId, { start: i, end: i })).length, 1)
      assert.ok(walrus.stats.failuresInjected > before, 'some requests were failed on purpose and retried')
      await patient.close()
      const bad = await fetch(`${walrus.url}/herd/v1/shaping`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ failureRate: 2 }) })
      assert.equal(bad.status, 400)

      walrus.setShaping({ failureRate: 0, latencyMs: 150 })
      let started = performance.now()
      await http.readRange(blobId, { start: 0, end: 0 })
      assert.ok(performance.now() - started >= 140, 'latency is added')

      walrus.setShaping({ latencyMs: 0, bandwidthBytesPerSec: 1_000_000 })
      started = performance.now()
      await http.getToFile(blobId, join(dir.path, 'slow'))
      assert.ok(performance.now() - started >= 150, '200 kB at 1 MB/s takes at least 150 ms')
      assert.deepEqual(await readFile(join(dir.path, 'slow')), bytes)
    } finally {
      await Promise.all([http.close(), walrus.stop()])
    }
  })
})
