import type { FastifyInstance } from 'fastify'
import type { HerdNode } from '../node.js'
import { RECEIPT_ID } from '../proof/receipt.js'
import { BadRequestError, errorBody, ReceiptSetAsideError, UnknownReceiptError } from './errors.js'

/**
 * `GET /v1/proofs/{receiptId}`: the proof once its batch is anchored; 202 with
 * the state until then; 409 for a receipt set aside. `POST /v1/proofs/requeue`:
 * receipts set aside go back in the queue, as far as its limits allow.
 */
export function registerProofRoute (app: FastifyInstance, node: HerdNode): void {
  app.post('/v1/proofs/requeue', async () => node.proofs.requeueSetAside())
  app.get('/v1/proofs/:receiptId', async (request, reply) => {
    const { receiptId } = request.params as { receiptId: string }
    if (!RECEIPT_ID.test(receiptId)) throw new BadRequestError(`a receipt ID is 64 lowercase hex digits, got "${receiptId.slice(0, 80)}"`)
    const found = await node.proofs.lookup(receiptId)
    if (found == null) throw new UnknownReceiptError(`no receipt ${receiptId} is known to this node: never issued here, or sealed longer ago than proofs.retainSealedMs`)
    if (found.state === 'aside') {
      const { body } = errorBody(new ReceiptSetAsideError(`receipt ${receiptId} was set aside, never sealed: ${found.reason}`))
      return reply.code(409).send({ state: 'aside', receiptId, ...body })
    }
    if (found.state !== 'sealed') return reply.code(202).send({ state: found.state, receiptId })
    return found.proof
  })
}
