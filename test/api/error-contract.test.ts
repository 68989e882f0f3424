import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Fastify from 'fastify'
import { blobIdFromBytes } from '../../src/blob/blob-id.js'
import { CacheFullError } from '../../src/blob/cache/errors.js'
import { errorBody, sendError } from '../../src/api/errors.js'
import { relayUnregistered } from '../../src/api/relay.js'
import { InferError } from '../../src/inference/infer-errors.js'
import { BlobEvictedError, BlobUnavailableError, UnregisteredBlobError } from '../../src/mesh/errors.js'
import type { GetOptions } from '../../src/walrus/types.js'
import { tempDir } from '../helpers/devnet.js'

const named = (name: string): Error => Object.assign(new Error(name), { name })

describe('one error contract', () => {
  it('gives one error one status whichever route meets it, in one body shape', () => {
    const cases: Array<[Error, number, string]> = [
      [new CacheFullError('full'), 503, 'UNAVAILABLE'],
      [new BlobEvictedError('evicted'), 503, 'UNAVAILABLE'],
      [new BlobUnavailableError('no source'), 502, 'BAD_GATEWAY'],
      [named('RetryableWalrusError'), 502, 'BAD_GATEWAY'],
      [named('RetryableLedgerError'), 503, 'UNAVAILABLE'],
      [new UnregisteredBlobError('no entry'), 404, 'NOT_FOUND'],
      [named('InvalidBlobIdError'), 400, 'BAD_REQUEST'],
      [named('UnauthorizedError'), 401, 'UNAUTHORIZED'],
      [named('RangeNotSatisfiableError'), 416, 'RANGE_NOT_SATISFIABLE'],
      [new InferError('BUSY', 'busy'), 429, 'BUSY'],
      [named('TensorFormatError'), 400, 'BAD_REQUEST'],
      [new Error('surprise'), 500, 'INTERNAL']
    ]
    for (const [err, status, code] of cases) {
      assert.deepEqual(errorBody(err), { status, body: { error: { code, name: err.name, message: err.message } } }, err.name)
    }
  })

  it('keeps the status Fastify puts on its own errors, with a code', () => {
    const tooBig = Object.assign(new Error('body too large'), { name: 'FastifyError', statusCode: 413 })
    assert.deepEqual(errorBody(tooBig).body.error.code, 'TOO_LARGE')
    assert.equal(errorBody(tooBig).status, 413)
  })
})

describe('relaying an unregistered blob', () => {
  it('serves a range from the Walrus client\'s copy, leaves no temp file, and refuses a blob over the bound', async () => {
    await using dir = await tempDir()
    const blobId = blobIdFromBytes(new Uint8Array(32).fill(3))
    const bytes = Buffer.from('0123456789')
    const walrus = {
      getToFile: async (_id: string, path: string, options: GetOptions = {}) => {
        options.onProgress?.({ type: 'walrus:read', blobId: _id, bytes: bytes.byteLength, total: bytes.byteLength })
        options.signal?.throwIfAborted()
        await writeFile(path, bytes)
        return { bytes: bytes.byteLength }
      }
    }
    const tmpDir = join(dir.path, 'tmp')
    const app = Fastify()
    app.setErrorHandler(async (err, _request, reply) => sendError(reply, err as Error))
    app.get('/small', async (request, reply) => relayUnregistered({ walrus, tmpDir }, blobId, request.headers.range, reply, AbortSignal.timeout(10_000)))
    app.get('/bounded', async (request, reply) => relayUnregistered({ walrus, tmpDir, maxBytes: 5 }, blobId, request.headers.range, reply, AbortSignal.timeout(10_000)))
    try {
      const ranged = await app.inject({ url: '/small', headers: { range: 'bytes=2-4' } })
      assert.equal(ranged.statusCode, 206)
      assert.equal(ranged.body, '234')
      assert.equal(ranged.headers['content-range'], 'bytes 2-4/10')
      assert.equal(ranged.headers['x-herd-source'], 'walrus-passthrough')
      const refused = await app.inject({ url: '/bounded' })
      assert.equal(refused.statusCode, 413)
      assert.equal(refused.json().error.name, 'RelayTooLargeError')
      const { readdir } = await import('node:fs/promises')
      assert.deepEqual(await readdir(tmpDir), [])
    } finally {
      await app.close()
    }
  })
})
