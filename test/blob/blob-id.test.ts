import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { BlobEncoder } from '@mysten/walrus-wasm'
import {
  BlobIdComputer, DEFAULT_N_SHARDS, blobIdFromBytes, blobIdFromU256, blobIdToBytes, blobIdToU256,
  isBlobId, parseBlobId, InvalidBlobIdError
} from '../../src/blob/index.js'

function directBlobId (bytes: Uint8Array, nShards: number): string {
  const [id] = new BlobEncoder(nShards).compute_metadata(bytes) as [number[]]
  return Buffer.from(id).toString('base64url')
}

describe('blob ID', () => {
  const computer = new BlobIdComputer()
  const small = new BlobIdComputer({ nShards: 10 })
  after(async () => { await Promise.all([computer.stop(), small.stop()]) })

  it('matches the Walrus encoder called directly, at mainnet shard count', async () => {
    const inputs = [new Uint8Array(0), new TextEncoder().encode('hello walrus\n'), randomBytes(70_001)]
    const ids = await Promise.all(inputs.map(async input => computer.computeBytes(input)))
    assert.equal(computer.nShards, DEFAULT_N_SHARDS)
    for (const [i, input] of inputs.entries()) {
      assert.equal(ids[i]?.blobId, directBlobId(input, 1000), `input ${i}`)
      assert.equal(ids[i]?.size, input.length)
      assert.equal(ids[i]?.encodingType, 'RS2')
    }
    assert.equal(new Set(ids.map(m => m?.blobId)).size, inputs.length)
  })

  it('depends on the shard count and reads files from disk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'herd-id-'))
    try {
      const bytes = randomBytes(300_000)
      const path = join(dir, 'blob')
      await writeFile(path, bytes)
      const fromFile = await small.computeFile(path)
      assert.equal(fromFile.blobId, directBlobId(bytes, 10))
      assert.notEqual(fromFile.blobId, directBlobId(bytes, 1000))
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('honours an abort signal while queued', async () => {
    const controller = new AbortController()
    const first = small.computeBytes(randomBytes(10))
    const second = small.computeBytes(randomBytes(10), { signal: controller.signal })
    controller.abort(new Error('caller gave up'))
    await assert.rejects(second, /caller gave up/)
    await first
  })

  it('keeps its process open while a worker computes, and not once the worker is idle', async () => {
    // A process whose only handle is the computer: it must print the ID (the busy worker held it open) and then end,
    // long before an idle worker's 30 s (a CLI that forgot stop() would otherwise linger that long).
    const computerUrl = new URL('../../src/blob/blob-id-computer.js', import.meta.url).href
    const script = `import { BlobIdComputer } from '${computerUrl}'; const m = await new BlobIdComputer({ nShards: 10 }).computeBytes(new Uint8Array(1000)); console.log(m.blobId)`
    const dir = await mkdtemp(join(tmpdir(), 'herd-blob-id-'))
    after(async () => { await rm(dir, { recursive: true, force: true }) })
    const path = join(dir, 'compute.mjs')
    await writeFile(path, script)
    const started = Date.now()
    const child = spawn(process.execPath, [path], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    const code = await Promise.race([once(child, 'exit').then(([c]) => c as number | null), sleep(20_000).then(() => 'still running')])
    if (code === 'still running') child.kill('SIGKILL')
    assert.equal(code, 0, 'the process ended by itself')
    assert.equal(out.trim(), directBlobId(new Uint8Array(1000), 10))
    assert.ok(Date.now() - started < 20_000)
  })

  it('converts between url-safe base64 and the little-endian u256', () => {
    const bytes = new Uint8Array(32)
    bytes[0] = 1
    const id = blobIdFromBytes(bytes)
    assert.equal(blobIdToU256(id), 1n)
    bytes.fill(0)
    bytes[31] = 0x80
    assert.equal(blobIdToU256(blobIdFromBytes(bytes)), 1n << 255n)
    for (let i = 0; i < 20; i++) {
      const random = blobIdFromBytes(randomBytes(32))
      assert.equal(blobIdFromU256(blobIdToU256(random)), random)
      assert.equal(blobIdFromU256(blobIdToU256(random).toString()), random)
      assert.deepEqual(blobIdToBytes(random), new Uint8Array(Buffer.from(random, 'base64url')))
    }
  })

  it('rejects malformed IDs with a named error', () => {
    const good = blobIdFromBytes(randomBytes(32))
    assert.equal(isBlobId(good), true)
    assert.equal(parseBlobId(good), good)
    for (const bad of ['', good.slice(1), good + 'A', good.slice(0, 42) + '+', good.slice(0, 42) + '=', 42, null]) {
      assert.equal(isBlobId(bad), false)
      assert.throws(() => parseBlobId(bad), { name: 'InvalidBlobIdError' })
    }
    // 'B' as the last character sets padding bits: not a canonical encoding of 32 bytes.
    assert.throws(() => parseBlobId(good.slice(0, 42) + 'B'), (err: Error) => err instanceof InvalidBlobIdError)
    assert.throws(() => blobIdFromU256(-1n), { name: 'InvalidBlobIdError' })
    assert.throws(() => blobIdFromU256(1n << 256n), { name: 'InvalidBlobIdError' })
    assert.throws(() => blobIdFromU256('12x'), { name: 'InvalidBlobIdError' })
  })
})

describe('encoder limits', () => {
  it('knows the largest blob for a shard count, as Walrus states it', async () => {
    const { maxBlobSizeForShards } = await import('../../src/blob/blob-id-computer.js')
    assert.equal(maxBlobSizeForShards(1000), 14_599_533_452)
    const computer = new BlobIdComputer({ nShards: 10 })
    try {
      assert.equal(computer.maxBlobBytes, maxBlobSizeForShards(10))
      await computer.computeBytes(new Uint8Array(computer.maxBlobBytes))
      await assert.rejects(computer.computeBytes(new Uint8Array(computer.maxBlobBytes + 1)), { name: 'InvalidArgumentError' })
    } finally {
      await computer.stop()
    }
  })
})
