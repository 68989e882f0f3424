import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import ort from 'onnxruntime-node'
import { request } from 'undici'
import { startNode, quickNodeConfig } from '../../harness/in-process-mesh.js'
import { ApiServer } from '../../src/api/server.js'
import type { BlobId } from '../../src/blob/blob-id.js'
import { InferClient } from '../../src/inference/infer-protocol.js'
import { syntheticMlp } from '../../sim/synthetic-model.js'
import { tensorsToJson } from '../../src/inference/tensor-codec.js'
import { createMeshLibp2p, type MeshLibp2p } from '../../src/mesh/libp2p.js'
import type { HerdNode } from '../../src/node.js'
import { WalrusHttpClient } from '../../src/walrus/http-client.js'
import { closedPort } from '../helpers/closed-port.js'
import { meshForSuite, randomModel, stopNodes } from '../helpers/mesh.js'

/** A name of 101 characters: valid (names go to 128), one past Fastify's default limit on a route parameter. */
const NAME_101 = `m${'x'.repeat(100)}`
const INPUTS = tensorsToJson({ x: new ort.Tensor('float32', new Float32Array([1, 2, 3, 4]), [1, 4]) })

interface Answer { status: number, json: any, headers: Record<string, unknown> }

/** A raw connection to `url`'s port that sends `bytes` and nothing more. */
async function rawSocket (url: string, bytes = ''): Promise<Socket> {
  const socket = connect(Number(new URL(url).port), '127.0.0.1')
  socket.on('error', () => {})
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('close', () => { reject(new Error('closed before connecting')) }) })
  if (bytes !== '') socket.write(bytes)
  return socket
}

/** What the server sent before it closed `socket`, or undefined if it was still open after `ms`. */
async function closedWithin (socket: Socket, ms: number): Promise<string | undefined> {
  if (socket.destroyed || socket.readyState === 'closed') return ''
  let received = ''
  socket.on('data', data => { received += data.toString() })
  return new Promise(resolve => {
    const timer = setTimeout(() => { resolve(undefined) }, ms)
    socket.once('close', () => { clearTimeout(timer); resolve(received) })
  })
}

async function call (url: string, options: { method?: 'GET' | 'POST' | 'DELETE', headers?: Record<string, string>, body?: string } = {}): Promise<Answer> {
  const response = await request(url, { method: options.method ?? 'GET', ...(options.headers != null ? { headers: options.headers } : {}), ...(options.body != null ? { body: options.body } : {}) })
  const text = await response.body.text()
  return { status: response.statusCode, json: text === '' ? undefined : JSON.parse(text), headers: response.headers }
}

async function infer (api: string, body: unknown): Promise<Answer> {
  return call(`${api}/v1/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) })
}

describe('the HTTP API against hostile pages and bad input', () => {
  let modelBlobId: BlobId
  let rawBlobId: BlobId
  const mesh = meshForSuite({
    nodes: 1,
    setup: async ({ dir, devnet }) => {
      const model = syntheticMlp({ inputSize: 4, hiddenSize: 8, outputSize: 2, layers: 2, seed: 1 })
      modelBlobId = (await devnet.publish(model, { name: 'mlp', onnx: true })).blobId
      await devnet.publish(syntheticMlp({ inputSize: 4, hiddenSize: 8, outputSize: 2, layers: 2, seed: 2 }), { name: NAME_101, onnx: true })
      const rawPath = join(dir, 'raw.bin')
      await writeFile(rawPath, randomModel(3000))
      const walrus = new WalrusHttpClient({ aggregator: devnet.walrus.url, publisher: devnet.walrus.url })
      rawBlobId = (await walrus.putFile(rawPath)).blobId
      await walrus.close()
    }
  })
  /** The suite's node, one whose ledger is down and one whose Walrus is down. */
  let nodes: HerdNode[] = []
  let api: string
  let noLedgerApi: string
  let noWalrusApi: string
  let caller: MeshLibp2p
  let client: InferClient

  before(async () => {
    const { dir, devnet } = mesh
    const [ledgerDown, walrusDown] = [`http://127.0.0.1:${await closedPort()}`, `http://127.0.0.1:${await closedPort()}`]
    const down = [
      await startNode(quickNodeConfig(join(dir, 'no-ledger'), devnet, { ledger: ledgerDown })),
      await startNode(quickNodeConfig(join(dir, 'no-walrus'), devnet, { walrus: { aggregator: walrusDown, publisher: walrusDown } }))
    ]
    mesh.defer(async () => stopNodes(down))
    nodes = [mesh.node, ...down]
    const apis: ApiServer[] = []
    for (const node of nodes) {
      apis.push(await mesh.startApi({ node }))
    }
    [api, noLedgerApi, noWalrusApi] = apis.map(a => a.url) as [string, string, string]

    caller = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: [], privateNetwork: true })
    mesh.defer(async () => caller.stop())
    await caller.start()
    for (const node of nodes.slice(0, 2)) await caller.dial(node.libp2p.getMultiaddrs(), { signal: AbortSignal.timeout(15_000) })
    client = new InferClient({ dialProtocol: async (peer, protocol, options) => caller.dialProtocol(peer, protocol, options) })
    mesh.defer(async () => client.close())
  })

  it('refuses a state-changing request from another web origin (CSRF), and nothing is pinned', async () => {
    const node = nodes[0] as HerdNode
    for (const origin of ['http://evil.example', 'null', `http://evil.example:${new URL(api).port}`]) {
      const pin = await call(`${api}/v1/blobs/${modelBlobId}/pin`, { method: 'POST', headers: { origin } })
      assert.equal(pin.status, 403, origin)
      assert.equal(pin.json.error.name, 'ForbiddenOriginError')
      assert.equal(pin.json.error.code, 'FORBIDDEN')
    }
    // A form post needs no CORS preflight: the body is never read.
    const form = await call(`${api}/v1/infer`, { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'text/plain' }, body: JSON.stringify({ model: 'mlp', inputs: INPUTS }) })
    assert.equal(form.status, 403)
    assert.equal(form.json.error.name, 'ForbiddenOriginError')
    assert.equal(node.cache.has(modelBlobId), false, 'nothing was fetched or pinned')
    assert.equal(node.inference.stats.runs, 0)
  })

  it('refuses a Host that is not the API (DNS rebinding), on every route', async () => {
    for (const host of ['evil.example', `evil.example:${new URL(api).port}`, `127.0.0.1:${Number(new URL(api).port) + 1}`]) {
      for (const path of ['/status', `/v1/blobs/${modelBlobId}`, '/nowhere']) {
        const answer = await call(`${api}${path}`, { headers: { host } })
        assert.equal(answer.status, 403, `${host} ${path}`)
        assert.equal(answer.json.error.name, 'ForbiddenHostError')
      }
    }
    assert.equal((nodes[0] as HerdNode).cache.has(modelBlobId), false)
  })

  it('answers its own Host names, its own origin, and clients that send no Origin', async () => {
    const port = new URL(api).port
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`]) {
      assert.equal((await call(`${api}/status`, { headers: { host } })).status, 200, host)
    }
    const own = await call(`${api}/v1/blobs/${modelBlobId}/pin`, { method: 'POST', headers: { origin: api } })
    assert.equal(own.status, 200, JSON.stringify(own.json))
    const cli = await call(`${api}/v1/blobs/${modelBlobId}/pin`, { method: 'DELETE' })
    assert.deepEqual(cli.json, { blobId: modelBlobId, pinned: false })
    assert.equal((await call(`${api}/health`)).json.status, 'ok')
  })

  it('takes model names up to the limit and refuses longer ones and ".." with 400, over HTTP', async () => {
    const long = await infer(api, { model: NAME_101, inputs: INPUTS })
    assert.equal(long.status, 200, JSON.stringify(long.json))
    assert.deepEqual(long.json.outputs.y.dims, [1, 2])
    const unknown = await infer(api, { model: `z${'y'.repeat(100)}`, inputs: INPUTS })
    assert.equal(unknown.status, 404, JSON.stringify(unknown.json))
    assert.equal(unknown.json.error.code, 'UNKNOWN_MODEL')
    for (const model of ['a'.repeat(129), 'a'.repeat(256), 'a'.repeat(10_000), '..', '.', 'mlp/../mlp', 'mlp@', 'mlp@..']) {
      const answer = await infer(api, { model, inputs: INPUTS })
      assert.equal(answer.status, 400, `${model.slice(0, 20)}: ${JSON.stringify(answer.json)}`)
      assert.equal(answer.json.error.code, 'BAD_REQUEST')
      assert.ok(answer.json.error.message.length < 500, 'the message does not echo the name back')
    }
  })

  it('refuses bad model names over /herd/infer/1.0.0 before asking the ledger', async () => {
    const [good, noLedger] = nodes as [HerdNode, HerdNode]
    const inputs = { x: new ort.Tensor('float32', new Float32Array(4), [1, 4]) }
    const options = { signal: AbortSignal.timeout(30_000) }
    await assert.rejects(client.infer(good.peerId, { model: `z${'y'.repeat(100)}`, inputs }, options), { name: 'InferError', code: 'UNKNOWN_MODEL' })
    // The node's ledger is down: a refusal that is not UNAVAILABLE was made before any request to it.
    for (const model of ['a'.repeat(129), 'a'.repeat(10_000), 'a'.repeat(1_000_000), '..']) {
      await assert.rejects(client.infer(noLedger.peerId, { model, inputs }, options), (err: Error & { code?: string }) => {
        assert.equal(err.name, 'InferError')
        assert.equal(err.code, 'BAD_REQUEST', `${model.slice(0, 20)}: ${err.message.slice(0, 200)}`)
        assert.ok(err.message.length < 500)
        return true
      })
    }
  })

  it('refuses input nested 10,000 deep with 400 and a short message, and keeps serving', async () => {
    const deep = (depth: number): string => `${'['.repeat(depth)}1${']'.repeat(depth)}`
    const bodies = [
      `{"model":"mlp","inputs":{"x":{"type":"float32","dims":[1],"data":${deep(10_000)}}}}`,
      `{"model":"mlp","inputs":{"x":{"type":${deep(10_000)},"dims":[1],"data":[1]}}}`,
      `{"model":"mlp","inputs":{"x":{"type":"float32","dims":${deep(10_000)},"data":[1]}}}`,
      `{"model":"mlp","inputs":{"x":${deep(10_000)}}}`,
      `{"model":"mlp","inputs":{"${'n'.repeat(100_000)}":{"type":"float32","dims":[1],"data":[[1]]}}}`
    ]
    for (const body of bodies) {
      const answer = await infer(api, body)
      assert.equal(answer.status, 400, JSON.stringify(answer.json)?.slice(0, 300))
      assert.equal(answer.json.error.code, 'BAD_REQUEST')
      assert.ok(answer.json.error.message.length < 500, `message of ${answer.json.error.message.length} characters`)
    }
    const after = await infer(api, { model: 'mlp', inputs: INPUTS })
    assert.equal(after.status, 200, JSON.stringify(after.json))
  })

  it('answers 503 when the ledger is down, for inference by name and for a blob', async () => {
    const byName = await infer(noLedgerApi, { model: 'mlp', inputs: INPUTS })
    assert.equal(byName.status, 503, JSON.stringify(byName.json))
    assert.equal(byName.json.error.code, 'UNAVAILABLE')
    assert.match(byName.json.error.message, /ledger/)
    const blob = await call(`${noLedgerApi}/v1/blobs/${modelBlobId}`)
    assert.equal(blob.status, 503, JSON.stringify(blob.json))
    assert.equal(blob.json.error.name, 'RetryableLedgerError')
  })

  it('answers 502 when Walrus is down, for inference by name and for a relayed blob', async () => {
    const byName = await infer(noWalrusApi, { model: 'mlp', inputs: INPUTS })
    assert.equal(byName.status, 502, JSON.stringify(byName.json))
    assert.equal(byName.json.error.code, 'BAD_GATEWAY')
    const relayed = await call(`${noWalrusApi}/v1/blobs/${rawBlobId}`)
    assert.equal(relayed.status, 502, JSON.stringify(relayed.json))
    assert.equal(relayed.json.error.name, 'RetryableWalrusError')
    assert.equal(relayed.json.error.code, 'BAD_GATEWAY')
  })

  describe('clients that hold connections', () => {
    /** Short limits, so that the test waits seconds; Node checks them every 200 ms here. */
    const LIMITS = { headersTimeoutMs: 1_000, requestTimeoutMs: 2_000, maxConnections: 8, checkEveryMs: 200 }
    /** The defaults left Node's 60 s for headers (checked every 30 s) and no bound at all on a body: far past this. */
    const WAIT_MS = 10_000
    let limited: string

    before(async () => {
      limited = (await mesh.startApi({ node: mesh.node, limits: LIMITS })).url
    })

    it('closes a connection whose headers or body come too slowly, and keeps serving', async () => {
      const host = new URL(limited).host
      const slowHeaders = await rawSocket(limited, `GET /health HTTP/1.1\r\nHost: ${host}\r\n`)
      const slowBody = await rawSocket(limited, `POST /v1/infer HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model":`)
      const [headers, body] = await Promise.all([closedWithin(slowHeaders, WAIT_MS), closedWithin(slowBody, WAIT_MS)])
      assert.notEqual(headers, undefined, 'a request whose headers never end was left open')
      assert.notEqual(body, undefined, 'a request whose body never ends was left open')
      assert.equal((await call(`${limited}/health`)).status, 200)
    })

    it('holds at most its bound of connections at once; past it new ones are closed unanswered', async () => {
      const idle = await Promise.all(Array.from({ length: LIMITS.maxConnections }, async () => rawSocket(limited)))
      try {
        const extra = await rawSocket(limited, `GET /health HTTP/1.1\r\nHost: ${new URL(limited).host}\r\n\r\n`).catch(() => undefined)
        const answered = extra != null ? await closedWithin(extra, WAIT_MS) : ''
        assert.equal(answered, '', 'a connection past the bound was served')
      } finally {
        for (const socket of idle) socket.destroy()
      }
      // The idle ones were counted, not leaked: once they are gone the API answers again.
      let status = 0
      for (let i = 0; i < 50 && status !== 200; i++) status = await call(`${limited}/health`).then(a => a.status, () => 0)
      assert.equal(status, 200)
    })
  })
})
