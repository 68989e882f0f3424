import { Uint8ArrayList } from 'uint8arraylist'
import { encodeVarint } from '../mesh/length-prefixed.js'
import { InferReply, InferRequest, Tensor } from './pb/infer.js'

/**
 * InferRequest and InferReply encoded for the framing without copying a
 * tensor's bytes: protons' encoder copies every tensor's `data` into the
 * message (49 kB per PaddleOCR detection request at the asker, 16 kB per
 * reply at the holder), and each copy is a fresh allocation that brings the
 * next full GC nearer. Here a message is its pieces: protons' encoding of
 * the small fields, and each tensor's `data` as it is, which Noise encrypts
 * piece by piece. The bytes are protons' own, field for field, so either
 * side may be an older node.
 */

const TENSOR_DATA_TAG = (4 << 3) | 2
const REQUEST_INPUTS_TAG = (2 << 3) | 2
const REPLY_OUTPUTS_TAG = (3 << 3) | 2
const EMPTY = new Uint8Array(0)

/** A tensor as length-delimited field `tag`: its header fields by protons, its data after them, not copied. */
function appendTensor (out: Uint8ArrayList, tag: number, tensor: Tensor): void {
  // protons writes data (field 4) before strings (field 5): only with no strings may data go last and the bytes stay protons'.
  if (tensor.data.byteLength === 0 || tensor.strings.length > 0) {
    const whole = Tensor.encode(tensor)
    out.append(Uint8Array.of(tag), encodeVarint(whole.byteLength), whole)
    return
  }
  const head = Tensor.encode({ ...tensor, data: EMPTY })
  const dataLength = encodeVarint(tensor.data.byteLength)
  const length = head.byteLength + 1 + dataLength.byteLength + tensor.data.byteLength
  out.append(Uint8Array.of(tag), encodeVarint(length), head, Uint8Array.of(TENSOR_DATA_TAG), dataLength, tensor.data)
}

/** The same bytes as `InferRequest.encode(request)`, as pieces. */
export function encodeRequest (request: InferRequest): Uint8ArrayList {
  const out = new Uint8ArrayList(InferRequest.encode({ model: request.model, inputs: [], deadlineMs: 0, hops: 0 }))
  for (const tensor of request.inputs) appendTensor(out, REQUEST_INPUTS_TAG, tensor)
  out.append(InferRequest.encode({ model: '', inputs: [], deadlineMs: request.deadlineMs, hops: request.hops }))
  return out
}

/** The same bytes as `InferReply.encode(reply)`, as pieces. */
export function encodeReply (reply: InferReply): Uint8ArrayList {
  const out = new Uint8ArrayList(InferReply.encode({ ...reply, outputs: [], node: '', modelBlobId: '', runMs: 0, receipt: EMPTY }))
  for (const tensor of reply.outputs) appendTensor(out, REPLY_OUTPUTS_TAG, tensor)
  out.append(InferReply.encode({ status: InferReply.Status.OK, message: '', outputs: [], node: reply.node, modelBlobId: reply.modelBlobId, runMs: reply.runMs, receipt: reply.receipt }))
  return out
}
