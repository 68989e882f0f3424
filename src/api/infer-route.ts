import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { InferError } from '../inference/infer-errors.js'
import { tensorsFromJson, tensorsToJson } from '../inference/tensor-codec.js'
import type { HerdNode } from '../node.js'
import { receiptJson } from '../proof/receipt-json.js'

/** JSON bodies are larger than the tensors they carry; binary (base64) ones by a third. */
export const MAX_INFER_BODY_BYTES = 128 * 1024 * 1024

const inferBody = z.strictObject({
  model: z.string().min(1).max(256),
  inputs: z.record(z.string(), z.unknown()),
  deadlineMs: z.number().int().min(1).max(3_600_000).optional(),
  /** Outputs as base64 of the raw little-endian bytes rather than JSON arrays. */
  binary: z.boolean().optional()
})

/** `POST /v1/infer`: run a model here or wherever the routing policy sends it. */
export function registerInferRoute (app: FastifyInstance, node: HerdNode): void {
  app.post('/v1/infer', { bodyLimit: MAX_INFER_BODY_BYTES }, async (request, reply) => {
    const parsed = inferBody.safeParse(request.body)
    if (!parsed.success) {
      throw new InferError('BAD_REQUEST', `body: ${parsed.error.issues.map(i => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`)
    }
    const controller = new AbortController()
    reply.raw.once('close', () => { if (!reply.raw.writableFinished) controller.abort(new Error('the client went away')) })
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
