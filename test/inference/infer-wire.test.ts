import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import ort from 'onnxruntime-node'
import { encodeReply, encodeRequest } from '../../src/inference/infer-wire.js'
import { InferReply, InferRequest, type Tensor } from '../../src/inference/pb/infer.js'
import { tensorToProto } from '../../src/inference/tensor-codec.js'

const det = tensorToProto('x', new ort.Tensor('float32', Float32Array.from({ length: 3 * 64 * 64 }, (_, i) => Math.sin(i)), [1, 3, 64, 64]))
const ids = tensorToProto('ids', new ort.Tensor('int64', BigInt64Array.from([1n, -2n, 3n]), [3]))
const words = tensorToProto('words', new ort.Tensor('string', ['a', 'bé', ''], [3]))
const empty = tensorToProto('none', new ort.Tensor('float32', new Float32Array(0), [0, 4]))
/** A malformed tensor (data and strings both), which protons still encodes: its bytes must be protons' too. */
const both: Tensor = { name: 'both', type: 'float32', dims: [1n], data: new Uint8Array(4), strings: ['s'] }

const requests: InferRequest[] = [
  { model: 'ocr-det', inputs: [det], deadlineMs: 0, hops: 0 },
  { model: 'RlLLNPtF3SGPj3EOwbMv-OcdHEonYr4W6UDm9Y-ld1g', inputs: [ids, words, empty, det], deadlineMs: 1500, hops: 2 },
  { model: '', inputs: [], deadlineMs: 0, hops: 0 },
  { model: 'm', inputs: [both], deadlineMs: 2 ** 32 - 1, hops: 1 }
]
const replies: InferReply[] = [
  { status: InferReply.Status.OK, message: '', outputs: [det, ids], node: '12D3KooWpeer', modelBlobId: 'blob', runMs: 3, receipt: new Uint8Array([1, 2, 3]) },
  { status: InferReply.Status.BUSY, message: '2 runs in progress', outputs: [], node: '', modelBlobId: '', runMs: 0, receipt: new Uint8Array(0) },
  { status: InferReply.Status.OK, message: '', outputs: [words, empty, both], node: 'n', modelBlobId: '', runMs: 0, receipt: new Uint8Array(0) }
]

/** Whether one of the pieces is `data` itself: the same memory, not a copy of it. */
function sendsInPlace (pieces: Iterable<Uint8Array>, data: Uint8Array): boolean {
  return [...pieces].some(p => p.buffer === data.buffer && p.byteOffset === data.byteOffset && p.byteLength === data.byteLength)
}

describe('the /herd/infer/1.0.0 messages as pieces', () => {
  it('are the bytes protons encodes, for requests and replies of every kind of tensor', () => {
    for (const request of requests) assert.deepEqual(encodeRequest(request).subarray(), InferRequest.encode(request))
    for (const reply of replies) assert.deepEqual(encodeReply(reply).subarray(), InferReply.encode(reply))
  })

  it('decode to the message they were made from', () => {
    const request = requests[1] as InferRequest
    const decoded = InferRequest.decode(encodeRequest(request))
    assert.equal(decoded.model, request.model)
    assert.deepEqual(decoded.inputs.map(t => [t.name, t.type, t.dims, Buffer.from(t.data).toString('hex'), t.strings]), request.inputs.map(t => [t.name, t.type, t.dims, Buffer.from(t.data).toString('hex'), t.strings]))
    assert.deepEqual([decoded.deadlineMs, decoded.hops], [request.deadlineMs, request.hops])
  })

  it('carry a numeric tensor\'s data as the tensor\'s own memory, not a copy', () => {
    // protons' encoder copies it into the message: 49 kB per detection request.
    assert.ok(sendsInPlace(encodeRequest(requests[0] as InferRequest), det.data))
    assert.ok(sendsInPlace(encodeReply(replies[0] as InferReply), det.data))
    assert.ok(sendsInPlace(encodeReply(replies[0] as InferReply), ids.data))
    assert.ok(!sendsInPlace([InferRequest.encode(requests[0] as InferRequest)], det.data))
  })
})
