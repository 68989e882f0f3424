import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import type { HerdNode } from '../node.js'
import { RECEIPT_ID } from '../proof/receipt.js'
import { BadRequestError, errorBody, ReceiptSetAsideError, TooManyWaitingError, UnknownReceiptError } from './errors.js'

/** How long POST /v1/proofs/seal waits for the anchors unless told: a write on testnet or mainnet takes seconds. */
const DEFAULT_SEAL_WAIT_S = 60
const MAX_SEAL_WAIT_S = 600
/** Seal requests not yet sealed, at most: each begins a seal at once, and on Walrus every bundle costs as much as 63 MiB. */
const MAX_SEAL_WAITERS = 4

/**
 * `GET /v1/proofs/{receiptId}`: the proof once its batch is anchored; 202 with
 * the state until then (and `sealedBy`, with Retry-After, when the queue is
 * sealed at the latest); 409 for a receipt set aside. `POST /v1/proofs/requeue`:
 * receipts set aside go back in the queue, as far as its limits allow.
 * `POST /v1/proofs/seal?wait=S`: seals every receipt answered so far, now,
 * whatever `proofs.batchSize` and `proofs.intervalMs` (10 minutes on testnet
 * and mainnet); 200 `{ sealed: true, queued }` once anchored, 202
 * `{ sealed: false, queued }` when S seconds (60 unless given; 0 to 600)
 * pass first, the sealing going on; 429 while MAX_SEAL_WAITERS sealings
 * asked for are still on their way.
 */
export function registerProofRoute (app: FastifyInstance, node: HerdNode): void {
  let sealWaiters = 0
  app.post('/v1/proofs/requeue', async () => node.proofs.requeueSetAside())
  app.post('/v1/proofs/seal', async (request, reply) => {
    const { wait } = request.query as { wait?: string }
    const seconds = wait == null ? DEFAULT_SEAL_WAIT_S : /^\d{1,3}$/.test(wait) ? Number(wait) : NaN
    if (!(seconds >= 0 && seconds <= MAX_SEAL_WAIT_S)) throw new BadRequestError(`wait is whole seconds from 0 to ${MAX_SEAL_WAIT_S}, got "${String(wait).slice(0, 20)}"`)
    if (sealWaiters >= MAX_SEAL_WAITERS) throw new TooManyWaitingError(`${sealWaiters} seal requests are waiting already: try again once they are answered`)
    // Counted until the sealing ends, not until the answer: one answered 202 still has the batcher sealing for it.
    sealWaiters++
    const sealing = node.proofs.sealNow().then(() => true).finally(() => { sealWaiters-- })
    // Answered on time or not, the sealing goes on: a failure after the answer (the node stopping) has no one left to tell.
    sealing.catch(() => {})
    const done = new AbortController()
    try {
      const sealed = await Promise.race([sealing, sleep(seconds * 1000, false, { signal: done.signal }).catch(() => false)])
      return await reply.code(sealed ? 200 : 202).send({ sealed, queued: node.status().proofs.queued })
    } finally {
      done.abort()
    }
  })
  app.get('/v1/proofs/:receiptId', async (request, reply) => {
    const { receiptId } = request.params as { receiptId: string }
    if (!RECEIPT_ID.test(receiptId)) throw new BadRequestError(`a receipt ID is 64 lowercase hex digits, got "${receiptId.slice(0, 80)}"`)
    const found = await node.proofs.lookup(receiptId)
    if (found == null) throw new UnknownReceiptError(`no receipt ${receiptId} is known to this node: never issued here, or sealed longer ago than proofs.retainSealedMs`)
    if (found.state === 'aside') {
      const { body } = errorBody(new ReceiptSetAsideError(`receipt ${receiptId} was set aside, never sealed: ${found.reason}`))
      return reply.code(409).send({ state: 'aside', receiptId, ...body })
    }
    if (found.state !== 'sealed') {
      // When to ask again: a queued receipt's batch is sealed by then at the latest (10 minutes can pass on testnet and mainnet); one being sealed has its bundle on the way now.
      const sealedBy = found.state === 'queued' ? node.proofs.nextSealAt() : undefined
      if (sealedBy != null) reply.header('retry-after', String(Math.max(1, Math.ceil((sealedBy - Date.now()) / 1000))))
      return reply.code(202).send({ state: found.state, receiptId, ...(sealedBy != null ? { sealedBy } : {}) })
    }
    return found.proof
  })
}
