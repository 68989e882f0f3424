import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import ort from 'onnxruntime-node'
import { request } from 'undici'
import type { BlobId } from '../../src/blob/blob-id.js'
import { syntheticMlp } from '../../sim/synthetic-model.js'
import { tensorsToJson } from '../../src/inference/tensor-codec.js'
import { runCli, spawnCli, type Spawned } from '../helpers/devnet.js'
import { devnetForSuite } from '../helpers/mesh.js'

const TOKEN = randomBytes(24).toString('base64url')

async function status (url: string, headers: Record<string, string> = {}): Promise<{ status: number, json: any, authenticate: unknown }> {
  const response = await request(url, { headers })
  return { status: response.statusCode, json: await response.body.json(), authenticate: response.headers['www-authenticate'] }
}

describe('herd start --api-token-file: a node whose API needs a token', () => {
  const suite = devnetForSuite()
  let node: Spawned
  let api: string
  let blobId: BlobId
  let inputFile: string
  // The test's own environment must not lend the CLI a token.
  const noToken = { HERD_API_TOKEN: '' }

  before(async () => {
    const { dir, devnet } = suite
    blobId = (await devnet.publish(syntheticMlp({ inputSize: 4, hiddenSize: 8, outputSize: 2, layers: 2, seed: 5 }), { name: 'mlp', onnx: true })).blobId
    inputFile = join(dir, 'input.json')
    await writeFile(inputFile, JSON.stringify(tensorsToJson({ x: new ort.Tensor('float32', new Float32Array([1, 2, 3, 4]), [1, 4]) })))
    const tokenFile = join(dir, 'token')
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 })
    node = await spawnCli(['start', '--data-dir', join(dir, 'node'), '--api-port', '0', '--walrus', devnet.walrus.url, '--ledger', devnet.ledgerUrl,
      '--api-token-file', tokenFile, '--api-allowed-host', 'herd.example'])
    suite.defer(async () => node.stop('SIGKILL'))
    api = node.ready.api
  })

  it('answers /health without a token and every other route only with the right one', async () => {
    assert.deepEqual((await status(`${api}/health`)).json, { status: 'ok' })
    for (const path of ['/status', '/metrics', `/v1/blobs/${blobId}`, '/nowhere']) {
      const none = await status(`${api}${path}`)
      assert.equal(none.status, 401, path)
      assert.equal(none.json.error.name, 'UnauthorizedError')
      assert.match(String(none.authenticate), /^Bearer/)
      const wrong = await status(`${api}${path}`, { authorization: `Bearer ${TOKEN.slice(1)}x` })
      assert.equal(wrong.status, 401, path)
      assert.equal(wrong.json.error.name, 'UnauthorizedError')
    }
    const right = await status(`${api}/status`, { authorization: `Bearer ${TOKEN}` })
    assert.equal(right.status, 200)
    assert.equal(right.json.peerId, node.ready.peerId)
    assert.equal((await status(`${api}/status`, { authorization: `bearer ${TOKEN}` })).status, 200, 'the scheme is case-insensitive')
  })

  it('answers a listed Host name and refuses others, token or not', async () => {
    const port = new URL(api).port
    assert.equal((await status(`${api}/status`, { host: 'herd.example', authorization: `Bearer ${TOKEN}` })).status, 200)
    assert.equal((await status(`${api}/status`, { host: `herd.example:${port}`, authorization: `Bearer ${TOKEN}` })).status, 200)
    const evil = await status(`${api}/status`, { host: 'evil.example', authorization: `Bearer ${TOKEN}` })
    assert.equal(evil.status, 403)
    assert.equal(evil.json.error.name, 'ForbiddenHostError')
  })

  it('herd fetch and herd infer send --api-token or $HERD_API_TOKEN, and fail clearly without it', async () => {
    const refused = await runCli(['fetch', blobId, '--api', api, '--quiet'], { env: noToken })
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /401/)
    const fetched = await runCli(['fetch', blobId, '--api', api, '--quiet', '--api-token', TOKEN], { env: noToken })
    assert.equal(fetched.code, 0, fetched.stderr)
    assert.equal(JSON.parse(fetched.stdout).type, 'fetch:done')
    const fromEnv = await runCli(['fetch', blobId, '--api', api, '--quiet'], { env: { HERD_API_TOKEN: TOKEN } })
    assert.equal(fromEnv.code, 0, fromEnv.stderr)
    assert.equal(JSON.parse(fromEnv.stdout).source, 'local')

    const inferArgs = ['infer', '--model', 'mlp', '--input', inputFile, '--api', api]
    const noInfer = await runCli(inferArgs, { env: noToken })
    assert.equal(noInfer.code, 1)
    assert.match(noInfer.stderr, /401/)
    const inferred = await runCli([...inferArgs, '--api-token', TOKEN], { env: noToken })
    assert.equal(inferred.code, 0, inferred.stderr)
    assert.deepEqual(JSON.parse(inferred.stdout).outputs.y.dims, [1, 2])

    const malformed = await runCli(['fetch', blobId, '--api', api, '--api-token', 'short'], { env: noToken })
    assert.equal(malformed.code, 1)
    assert.match(malformed.stderr, /--api-token is malformed/)
    assert.doesNotMatch(malformed.stderr, /short/, 'the token is not echoed')
  })

  it('herd proof requeue asks the node with its token, and prints what went back in the queue', async () => {
    const refused = await runCli(['proof', 'requeue', '--api', api], { env: noToken })
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /401/)
    const requeued = await runCli(['proof', 'requeue', '--api', api, '--api-token', TOKEN], { env: noToken })
    assert.equal(requeued.code, 0, requeued.stderr)
    assert.deepEqual(JSON.parse(requeued.stdout), { requeued: 0, left: 0 }, 'nothing was set aside on this node')
  })

  it('herd start refuses a malformed token, without echoing it', async () => {
    const bad = await runCli(['start', '--data-dir', join(suite.dir, 'bad'), '--api-port', '0', '--api-token', 'not a token!'])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /api\.token/)
    assert.doesNotMatch(bad.stderr, /not a token!/)
    const empty = join(suite.dir, 'empty-token')
    await writeFile(empty, '\n')
    const emptyFile = await runCli(['start', '--data-dir', join(suite.dir, 'bad'), '--api-port', '0', '--api-token-file', empty])
    assert.equal(emptyFile.code, 1)
    assert.match(emptyFile.stderr, /is empty/)
  })
})
