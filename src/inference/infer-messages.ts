import { asInferError, InferError } from './infer-errors.js'
import type { InferInput, InferResult } from './inference-service.js'
import { InferReply, type InferRequest } from './pb/infer.js'
import { tensorFromProto, tensorsToProto, type TensorLimits } from './tensor-codec.js'

/** The protobuf messages of an inference, as /herd/infer/1.0.0 and the HTTP API's protobuf body both carry them. */

/** The named inputs of a request, each checked by the codec; a name given twice is a bad request. */
export function decodeInputs (request: InferRequest, limits?: Partial<TensorLimits>): InferInput['inputs'] {
  const inputs: InferInput['inputs'] = {}
  for (const tensor of request.inputs) {
    if (Object.hasOwn(inputs, tensor.name)) throw new InferError('BAD_REQUEST', `input ${tensor.name} is given twice`)
    inputs[tensor.name] = tensorFromProto(tensor, limits)
  }
  return inputs
}

/** Every field of a reply, so a partial one encodes. */
export function reply (fields: Partial<InferReply>): InferReply {
  return { status: InferReply.Status.OK, message: '', outputs: [], node: '', modelBlobId: '', runMs: 0, receipt: new Uint8Array(0), ...fields }
}

export function resultReply (result: InferResult): InferReply {
  return reply({
    outputs: tensorsToProto(result.outputs),
    node: result.node,
    modelBlobId: result.modelBlobId,
    runMs: Math.round(result.runMs),
    ...(result.receipt != null ? { receipt: result.receipt as Uint8Array<ArrayBuffer> } : {})
  })
}

/** The reply to a failed request: its code and message; an error of no known kind is INTERNAL. */
export function errorReply (err: unknown): InferReply {
  const known = asInferError(err) ?? new InferError('INTERNAL', (err as Error).message)
  return reply({ status: InferReply.Status[known.code], message: known.message })
}
