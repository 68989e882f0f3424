import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { blobIdFromBytes } from '../../src/blob/blob-id.js'
import { WalrusHttpClient } from '../../src/walrus/http-client.js'
import { parsePublisherReply } from '../../src/walrus/responses.js'
import { tempDir } from '../helpers/devnet.js'

const BLOB_ID = blobIdFromBytes(randomBytes(32))

interface Fake { url: string, requests: IncomingMessage[], close: () => Promise<void> }

/** A scripted HTTP server: the n-th request gets the n-th handler (the last one repeats). */
async function fakeServer (handlers: Array<(req: IncomingMessage, res: ServerResponse) => void>): Promise<Fake> {
  const requests: IncomingMessage[] = []
  const server: Server = createServer((req, res) => {
    requests.push(req)
    const handler = handlers[Math.min(requests.length - 1, handlers.length - 1)]!
    req.resume()
    req.on('end', () => { handler(req, res) })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    close: async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) }
  }
}

function client (url: string, extra: Partial<ConstructorParameters<typeof WalrusHttpClient>[0]> = {}): WalrusHttpClient {
  return new WalrusHttpClient({ publisher: url, aggregator: url, retryBaseDelayMs: 5, retryMaxDelayMs: 20, ...extra })
}

const error = (status: number, reason: string) => (_req: IncomingMessage, res: ServerResponse): void => {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ error: { code: status, status: 'X', message: `failed with ${reason}`, details: [{ '@type': 'ErrorInfo', reason }] } }))
}

describe('Walrus HTTP client', () => {
  it('parses both real publisher reply shapes', () => {
    const created = parsePublisherReply({ newlyCreated: { blobObject: { id: '0xe91e', registeredEpoch: 34, blobId: 'M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk', size: 17, encodingType: 'RS2', certifiedEpoch: 34, storage: { id: '0x4748', startEpoch: 34, endEpoch: 35, storageSize: 66034000 }, deletable: false }, resourceOperation: { registerFromScratch: { encodedLength: 66034000, epochsAhead: 1 } }, cost: 132300 } })
    assert.deepEqual(created, { blobId: 'M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk', status: 'newlyCreated', objectId: '0xe91e', size: 17, endEpoch: 35, cost: 132300 })
    const certified = parsePublisherReply({ alreadyCertified: { blobId: 'M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk', event: { txDigest: '4XQHFa9S', eventSeq: '0' }, endEpoch: 35 } })
    assert.deepEqual(certified, { blobId: 'M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk', status: 'alreadyCertified', endEpoch: 35 })
    const owned = parsePublisherReply({ alreadyCertified: { blobId: 'M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk', object: '0x12', endEpoch: 35 } })
    assert.equal(owned.objectId, '0x12')
    for (const bad of [{}, { newlyCreated: {} }, { alreadyCertified: { blobId: 'short' } }, null, 'text']) {
      assert.throws(() => parsePublisherReply(bad), { name: 'WalrusProtocolError' })
    }
  })

  it('retries 5xx and 429 with backoff, then succeeds', async () => {
    const reply = { alreadyCertified: { blobId: BLOB_ID, endEpoch: 3 } }
    const fake = await fakeServer([error(503, 'BLOB_UNAVAILABLE'), (_q, res) => { res.writeHead(429); res.end('busy') }, (_q, res) => { res.end(JSON.stringify(reply)) }])
    const http = client(fake.url)
    try {
      const stored = await http.putBytes(Buffer.from('abc'), { epochs: 3, permanent: true, sendObjectTo: '0xabc' })
      assert.equal(stored.blobId, BLOB_ID)
      assert.equal(fake.requests.length, 3)
      const url = new URL(fake.requests[0]!.url!, fake.url)
      assert.equal(url.pathname, '/v1/blobs')
      assert.deepEqual(Object.fromEntries(url.searchParams), { epochs: '3', permanent: 'true', send_object_to: '0xabc' })
      assert.equal(fake.requests[0]!.method, 'PUT')
    } finally {
      await Promise.all([http.close(), fake.close()])
    }
  })

  it('fails at once on 4xx with the reason from the error body', async () => {
    const fake = await fakeServer([error(451, 'FORBIDDEN_BLOB')])
    const http = client(fake.url)
    try {
      await assert.rejects(http.readRange(BLOB_ID, { start: 0, end: 9 }), (err: any) => {
        assert.equal(err.name, 'WalrusRequestError')
        assert.equal(err.status, 451)
        assert.equal(err.reason, 'FORBIDDEN_BLOB')
        assert.match(err.message, /failed with FORBIDDEN_BLOB/)
        return true
      })
      assert.equal(fake.requests.length, 1)
      await assert.rejects(http.putBytes(Buffer.from('x'), { epochs: 0 }), { name: 'WalrusError' })
      await assert.rejects(http.readRange('nope', { start: 0, end: 1 }), { name: 'InvalidBlobIdError' })
      assert.equal(fake.requests.length, 1, 'invalid arguments never reach the network')
    } finally {
      await Promise.all([http.close(), fake.close()])
    }
  })

  it('reads no more than a bounded error body: a 4xx that never ends still fails at once with its status', async () => {
    let sent = 0
    const fake = await fakeServer([(_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' })
      // An endless error body: the client must stop reading it, not hold it.
      const piece = Buffer.alloc(64 * 1024, 0x20)
      const pump = (): void => {
        while (sent < 64 * 1024 * 1024 && res.write(piece)) sent += piece.length
        if (sent < 64 * 1024 * 1024) res.once('drain', pump)
        else res.end()
      }
      pump()
    }])
    const http = client(fake.url)
    try {
      await assert.rejects(http.readRange(BLOB_ID, { start: 0, end: 9 }), (err: any) => {
        assert.equal(err.name, 'WalrusRequestError')
        assert.equal(err.status, 400)
        return true
      })
      assert.ok(sent < 64 * 1024 * 1024, `the server got to send only part of its endless body (${sent} bytes)`)
    } finally {
      await Promise.all([http.close(), fake.close()])
    }
  })

  it('resumes a read cut off in the middle from where it stopped', async () => {
    await using dir = await tempDir()
    const blob = randomBytes(100_000)
    const fake = await fakeServer([
      (_req, res) => {
        res.writeHead(200, { 'content-length': String(blob.length) })
        res.write(blob.subarray(0, 40_000), () => { setTimeout(() => res.socket?.destroy(), 20) })
      },
      (req, res) => {
        const [, start, end] = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '') ?? []
        res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${blob.length}`, 'content-length': String(Number(end) - Number(start) + 1) })
        res.end(blob.subarray(Number(start), Number(end) + 1))
      }
    ])
    const http = client(fake.url)
    try {
      const progress: number[] = []
      const { bytes } = await http.getToFile(BLOB_ID, join(dir.path, 'blob'), { onProgress: ({ bytes }) => progress.push(bytes) })
      assert.equal(bytes, blob.length)
      assert.deepEqual(await readFile(join(dir.path, 'blob')), blob)
      assert.equal(fake.requests.length, 2)
      assert.equal(fake.requests[0]!.headers.range, undefined)
      assert.equal(fake.requests[1]!.headers.range, `bytes=40000-${blob.length - 1}`)
      assert.equal(progress.at(-1), blob.length)
    } finally {
      await Promise.all([http.close(), fake.close()])
    }
  })

  it('hands a range read on as it arrives, and resumes one cut off from the byte it reached', async () => {
    const blob = randomBytes(100_000)
    const partial = (req: IncomingMessage): [number, number] => {
      const [, start, end] = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '') ?? []
      return [Number(start), Number(end)]
    }
    const fake = await fakeServer([
      (req, res) => {
        const [start, end] = partial(req)
        res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${blob.length}`, 'content-length': String(end - start + 1) })
        res.write(blob.subarray(start, start + 30_000), () => { setTimeout(() => res.socket?.destroy(), 20) })
      },
      (req, res) => {
        const [start, end] = partial(req)
        res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${blob.length}`, 'content-length': String(end - start + 1) })
        res.end(blob.subarray(start, end + 1))
      }
    ])
    const http = client(fake.url)
    try {
      const pieces: Array<[number, number]> = []
      const bytes = await http.readRange(BLOB_ID, { start: 1_000, end: 90_999 }, {
        onData: (piece, offset) => {
          assert.deepEqual(Buffer.from(piece), blob.subarray(offset, offset + piece.byteLength), `the bytes at ${offset}`)
          pieces.push([offset, piece.byteLength])
        }
      })
      assert.deepEqual(Buffer.from(bytes), blob.subarray(1_000, 91_000))
      assert.equal(fake.requests.length, 2)
      assert.equal(fake.requests[1]!.headers.range, 'bytes=31000-90999', 'the retry asks only for what had not arrived')
      let next = 1_000
      for (const [offset, length] of pieces) {
        assert.equal(offset, next, 'pieces in order, none twice')
        next += length
      }
      assert.equal(next, 91_000)
    } finally {
      await Promise.all([http.close(), fake.close()])
    }
  })

  it('gives up on a stalled server after its timeouts and retries', async () => {
    const fake = await fakeServer([() => {}])
    const http = client(fake.url, { headersTimeoutMs: 100, retries: 1 })
    try {
      await assert.rejects(http.readRange(BLOB_ID, { start: 0, end: 9 }), { name: 'RetryableWalrusError' })
      assert.equal(fake.requests.length, 2)
    } finally {
      await Promise.all([http.close(), fake.close()])
    }
  })

  it('stops retrying when the caller aborts', async () => {
    const fake = await fakeServer([error(500, 'INTERNAL')])
    const http = client(fake.url, { retries: 100, retryBaseDelayMs: 50, retryMaxDelayMs: 50 })
    try {
      const controller = new AbortController()
      setTimeout(() => controller.abort(new Error('operator pressed ctrl-c')), 120)
      await assert.rejects(http.readRange(BLOB_ID, { start: 0, end: 9 }, { signal: controller.signal }), /ctrl-c/)
      assert.ok(fake.requests.length < 10)
    } finally {
      await Promise.all([http.close(), fake.close()])
    }
  })

  it('refuses a connection error only after retrying it', async () => {
    const fake = await fakeServer([() => {}])
    const url = fake.url
    await fake.close()
    const http = client(url, { retries: 2 })
    try {
      await assert.rejects(http.readRange(BLOB_ID, { start: 0, end: 9 }), { name: 'RetryableWalrusError' })
    } finally {
      await http.close()
    }
  })
})
