import type { FastifyInstance, FastifyReply } from 'fastify'
import { z } from 'zod'
import { asInferError, InferError } from '../inference/infer-errors.js'
import { decodeInputs, errorReply, resultReply } from '../inference/infer-messages.js'
import { InferReply, InferRequest } from '../inference/pb/infer.js'
import { DEFAULT_MAX_TENSORS, tensorsFromJson, tensorsToJson } from '../inference/tensor-codec.js'
import type { HerdNode } from '../node.js'
import { receiptJson } from '../proof/receipt-json.js'
import { HTTP_STATUS_BY_CODE } from './errors.js'

/** JSON bodies are larger than the tensors they carry; binary (base64) ones by a third. */
export const MAX_INFER_BODY_BYTES = 128 * 1024 * 1024
/** The fast path's body and reply: InferRequest and InferReply of pb/infer.proto, as on /herd/infer/1.0.0. */
export const PROTOBUF_TYPE = 'application/x-protobuf'
const MAX_MODEL_CHARS = 256
const MAX_DEADLINE_MS = 3_600_000

const inferBody = z.strictObject({
  model: z.string().min(1).max(MAX_MODEL_CHARS),
  inputs: z.record(z.string(), z.unknown()),
  deadlineMs: z.number().int().min(1).max(MAX_DEADLINE_MS).optional(),
  /** Outputs as base64 of the raw little-endian bytes rather than JSON arrays. */
  binary: z.boolean().optional()
})

/**
 * `POST /v1/infer`: run a model here or wherever the routing policy sends it.
 * A JSON body gets a JSON reply; a protobuf body (PROTOBUF_TYPE) an
 * InferReply, with no JSON or base64 pass over the tensors either way.
 */
export function registerInferRoute (app: FastifyInstance, node: HerdNode): void {
  app.addContentTypeParser(PROTOBUF_TYPE, { parseAs: 'buffer', bodyLimit: MAX_INFER_BODY_BYTES }, (_request, body, done) => { done(null, body) })
  app.post('/v1/infer', { bodyLimit: MAX_INFER_BODY_BYTES }, async (request, reply) => {
    const controller = new AbortController()
    reply.raw.once('close', () => { if (!reply.raw.writableFinished) controller.abort(new Error('the client went away')) })
    if (Buffer.isBuffer(request.body)) return inferProtobuf(node, request.body, reply, controller.signal)
    const parsed = inferBody.safeParse(request.body)
    if (!parsed.success) {
      throw new InferError('BAD_REQUEST', `body: ${parsed.error.issues.map(i => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`)
    }
    const inputs = tensorsFromJson(parsed.data.inputs)
    const result = await node.inference.infer({ model: parsed.data.model, inputs, ...(parsed.data.deadlineMs != null ? { deadlineMs: parsed.data.deadlineMs } : {}) }, { signal: controller.signal })
    return {
      outputs: tensorsToJson(result.outputs, { binary: parsed.data.binary === true }),
      node: result.node,
      modelBlobId: result.modelBlobId,
      runMs: result.runMs,
      route: result.route,
      receipt: result.receipt != null ? receiptJson(result.receipt) : null
    }
  })
}

/** The protobuf path: the reply's status says what went wrong, and the HTTP status too; how the request was served is the `x-herd-route` header. */
async function inferProtobuf (node: HerdNode, body: Buffer, reply: FastifyReply, signal: AbortSignal): Promise<FastifyReply> {
  let message: InferReply
  let status = 200
  try {
    let request: InferRequest
    try {
      request = InferRequest.decode(body, { limits: { inputs: DEFAULT_MAX_TENSORS } })
    } catch (err) {
      throw new InferError('BAD_REQUEST', `body: not an InferRequest: ${(err as Error).message}`)
    }
    if (request.model.length === 0 || request.model.length > MAX_MODEL_CHARS) throw new InferError('BAD_REQUEST', `body: model must be 1 to ${MAX_MODEL_CHARS} characters`)
    if (request.deadlineMs > MAX_DEADLINE_MS) throw new InferError('BAD_REQUEST', `body: deadlineMs must be at most ${MAX_DEADLINE_MS}`)
    if (request.hops !== 0) throw new InferError('BAD_REQUEST', 'body: hops is for requests between nodes and must be 0 here')
    const inputs = decodeInputs(request)
    const result = await node.inference.infer({ model: request.model, inputs, ...(request.deadlineMs > 0 ? { deadlineMs: request.deadlineMs } : {}) }, { signal })
    message = resultReply(result)
    reply.header('x-herd-route', result.route)
  } catch (err) {
    const known = asInferError(err)
    if (known == null) throw err
    message = errorReply(known)
    status = HTTP_STATUS_BY_CODE[known.code]
  }
  const bytes = InferReply.encode(message)
  return reply.code(status).type(PROTOBUF_TYPE).send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
}
