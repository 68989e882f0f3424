import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import ort from 'onnxruntime-node'
import { CLIENT_IDLE_STREAM_MS, InferClient, INFER_PROTOCOL } from '../../src/inference/infer-protocol.js'
import { InferReply, InferRequest } from '../../src/inference/pb/infer.js'
import { syntheticMlp } from '../../sim/synthetic-model.js'
import { tensorsToJson, tensorToProto } from '../../src/inference/tensor-codec.js'
import { createMeshLibp2p, type MeshLibp2p } from '../../src/mesh/libp2p.js'
import { runCli } from '../helpers/devnet.js'
import { meshForSuite } from '../helpers/mesh.js'

const INPUT = 64

function batch (rows: number, seed: number): ort.Tensor {
  const data = new Float32Array(rows * INPUT)
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(seed + i)
  return new ort.Tensor('float32', data, [rows, INPUT])
}

describe('/herd/infer/1.0.0 against a live node', () => {
  let model: Uint8Array
  const mesh = meshForSuite({
    nodes: 1,
    overrides: { inference: { concurrency: 1, queueDepth: 0 } },
    setup: async ({ devnet }) => {
      model = syntheticMlp({ inputSize: INPUT, hiddenSize: 512, outputSize: 8, layers: 3, seed: 3 })
      await devnet.publish(model, { name: 'mlp', onnx: true })
    }
  })
  let caller: MeshLibp2p

  before(async () => {
    caller = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: [], privateNetwork: true })
    mesh.defer(async () => caller.stop())
    await caller.start()
    await caller.dial(mesh.node.libp2p.getMultiaddrs())
  })

  async function ask (request: Uint8Array): Promise<InferReply> {
    const stream = await caller.dialProtocol(mesh.node.peerId, INFER_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
    const lp = lpStream(stream, { maxDataLength: 1024 * 1024 })
    await lp.write(request)
    const reply = InferReply.decode(await lp.read({ signal: AbortSignal.timeout(30_000) }))
    await stream.close().catch(() => {})
    return reply
  }

  it('runs a model for a peer, and the outputs equal a direct run', async () => {
    const session = await ort.InferenceSession.create(Buffer.from(model))
    const input = batch(4, 1)
    const expected = await session.run({ x: input }) as Record<string, ort.Tensor>
    await session.release()
    const client = new InferClient({ dialProtocol: async (peer, protocol, options) => caller.dialProtocol(peer, protocol, options) })
    const result = await client.infer(mesh.node.peerId, { model: 'mlp', inputs: { x: input } }, { signal: AbortSignal.timeout(30_000) })
    assert.equal(result.node, mesh.node.peerId.toString())
    assert.deepEqual(tensorsToJson(result.outputs, { binary: true }), tensorsToJson(expected, { binary: true }))
    await client.close()
  })

  it('keeps a stream for the next request to the same peer, and replaces one the server has closed', async () => {
    const opened: Stream[] = []
    const client = new InferClient({
      dialProtocol: async (peer, protocol, options) => {
        const stream = await caller.dialProtocol(peer, protocol, options)
        opened.push(stream)
        return stream
      }
    })
    const holder = mesh.node.peerId
    const ask = async (): Promise<void> => {
      const result = await client.infer(holder, { model: 'mlp', inputs: { x: batch(2, 3) } }, { signal: AbortSignal.timeout(30_000) })
      assert.equal(result.node, holder.toString())
    }
    try {
      for (let i = 0; i < 5; i++) await ask()
      assert.equal(opened.length, 1, 'five requests in turn, one stream')
      // An error reply leaves the stream usable too.
      await assert.rejects(client.infer(holder, { model: 'nope', inputs: { x: batch(1, 1) } }, { signal: AbortSignal.timeout(30_000) }), { code: 'UNKNOWN_MODEL' })
      await ask()
      assert.equal(opened.length, 1)
      // The stream is reset while kept: the next request opens another and succeeds.
      opened[0]!.abort(new Error('reset under the client'))
      await ask()
      assert.equal(opened.length, 2)
    } finally {
      await client.close()
    }
    // Our side is closed at once; the server closes its own when it reads the end.
    assert.ok(opened.every(stream => stream.status !== 'open' || stream.writeStatus === 'closed'), `close() closes the kept streams: ${opened.map(s => `${s.status}/${s.writeStatus}`).join()}`)
  })

  it('opens a stream ahead of the first request, which then opens none', async () => {
    let opened = 0
    const client = new InferClient({ dialProtocol: async (peer, protocol, options) => { opened++; return caller.dialProtocol(peer, protocol, options) } })
    const holder = mesh.node.peerId
    try {
      await client.prepare(holder, { signal: AbortSignal.timeout(10_000) })
      await client.prepare(holder, { signal: AbortSignal.timeout(10_000) })
      assert.equal(opened, 1, 'one stream kept ahead, not one per call')
      assert.equal(client.idleStreams(holder), 1)
      const result = await client.infer(holder, { model: 'mlp', inputs: { x: batch(1, 5) } }, { signal: AbortSignal.timeout(30_000) })
      assert.equal(result.node, holder.toString())
      assert.equal(opened, 1, 'the first request went on the stream opened ahead')
    } finally {
      await client.close()
    }
  })

  it('answers malformed requests with a status and goes on serving', async () => {
    const garbage = await ask(new Uint8Array([0xff, 0xff, 0xff, 0x01]))
    assert.equal(garbage.status, InferReply.Status.BAD_REQUEST)
    const truncated = tensorToProto('x', batch(1, 2))
    truncated.data = truncated.data.subarray(0, truncated.data.byteLength - 3)
    const short = await ask(InferRequest.encode({ model: 'mlp', inputs: [truncated], deadlineMs: 0, hops: 0 }))
    assert.equal(short.status, InferReply.Status.BAD_REQUEST)
    assert.match(short.message, /x/)
    const unknown = await ask(InferRequest.encode({ model: 'nope', inputs: [tensorToProto('x', batch(1, 2))], deadlineMs: 0, hops: 0 }))
    assert.equal(unknown.status, InferReply.Status.UNKNOWN_MODEL)
    const wrongWidth = await ask(InferRequest.encode({ model: 'mlp', inputs: [tensorToProto('x', new ort.Tensor('float32', new Float32Array(5), [1, 5]))], deadlineMs: 0, hops: 0 }))
    assert.equal(wrongWidth.status, InferReply.Status.BAD_REQUEST)
    assert.match(wrongWidth.message, /axis 1|dimension/)
    const ok = await ask(InferRequest.encode({ model: 'mlp', inputs: [tensorToProto('x', batch(1, 2))], deadlineMs: 0, hops: 0 }))
    assert.equal(ok.status, InferReply.Status.OK)
  })

  it('answers BUSY at once when its queue is full', async () => {
    const big = tensorToProto('x', batch(20_000, 3))
    const request = InferRequest.encode({ model: 'mlp', inputs: [big], deadlineMs: 0, hops: 0 })
    const replies = await Promise.all([ask(request), ask(request), ask(request)])
    const statuses = replies.map(r => r.status)
    assert.ok(statuses.includes(InferReply.Status.OK), statuses.join())
    assert.ok(statuses.includes(InferReply.Status.BUSY), statuses.join())
    assert.ok(mesh.node.status().inference.busy >= 1)
    // A run turned away gives its model back: nothing is left holding it against eviction.
    assert.equal(mesh.node.status().cache.openHandles, 0)
  })

  it('herd infer --peer runs a model over libp2p from the command line', async () => {
    const inputFile = join(mesh.dir, 'input.json')
    const input = batch(2, 4)
    await writeFile(inputFile, JSON.stringify(tensorsToJson({ x: input })))
    const address = mesh.node.libp2p.getMultiaddrs()[0]?.toString() as string
    const result = await runCli(['infer', '--model', 'mlp', '--input', inputFile, '--peer', address])
    assert.equal(result.code, 0, result.stderr)
    const json = JSON.parse(result.stdout)
    assert.equal(json.node, mesh.node.peerId.toString())
    const session = await ort.InferenceSession.create(Buffer.from(model))
    const expected = await session.run({ x: input }) as Record<string, ort.Tensor>
    await session.release()
    assert.deepEqual(json.outputs, tensorsToJson(expected))
    const bad = await runCli(['infer', '--model', 'mlp', '--input', join(mesh.dir, 'missing.json'), '--peer', address])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /cannot read the input file/)
  })

  // Last: it stops the node.
  it('stops at once while a caller keeps an idle stream to it, not after the stream\'s idle time', async () => {
    const client = new InferClient({ dialProtocol: async (peer, protocol, options) => caller.dialProtocol(peer, protocol, options) })
    const other = new InferClient({ dialProtocol: async (peer, protocol, options) => caller.dialProtocol(peer, protocol, options) })
    const node = mesh.node
    try {
      await client.infer(node.peerId, { model: 'mlp', inputs: { x: batch(1, 2) } }, { signal: AbortSignal.timeout(30_000) })
      // And one opened ahead that never carried a request.
      await other.prepare(node.peerId, { signal: AbortSignal.timeout(10_000) })
      assert.equal(other.idleStreams(node.peerId), 1)
      const started = performance.now()
      await node.stop()
      assert.ok(performance.now() - started < CLIENT_IDLE_STREAM_MS / 2, `stopped in ${Math.round(performance.now() - started)} ms`)
    } finally {
      await client.close()
      await other.close()
    }
  })
})
