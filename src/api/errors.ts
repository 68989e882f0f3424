import { logger } from '@libp2p/logger'
import type { FastifyReply } from 'fastify'

const log = logger('herd:api:errors')

/** A request whose Host is not one of the API's own names: DNS rebinding, or a name the operator did not list in `api.allowedHosts`. */
export class ForbiddenHostError extends Error {
  override readonly name = 'ForbiddenHostError'
}

/** A state-changing request sent by a web page of another origin: cross-site request forgery. */
export class ForbiddenOriginError extends Error {
  override readonly name = 'ForbiddenOriginError'
}

/** No bearer token, or the wrong one, on an API that requires one. */
export class UnauthorizedError extends Error {
  override readonly name = 'UnauthorizedError'
}

/** Maps herd's named errors to HTTP statuses; anything else is a 500. */
const STATUS_BY_ERROR: Record<string, number> = {
  InvalidBlobIdError: 400,
  InvalidArgumentError: 400,
  UnauthorizedError: 401,
  ForbiddenHostError: 403,
  ForbiddenOriginError: 403,
  RangeNotSatisfiableError: 416,
  NotFoundError: 404,
  BlobNotFoundError: 404,
  UnregisteredBlobError: 404,
  CacheFullError: 507,
  BlobUnavailableError: 502,
  RetryableWalrusError: 502,
  RetryableLedgerError: 503
}

/** The API's JSON error body, `{ error: { code, name, message } }`, with the status the error's name maps to. */
export function sendError (reply: FastifyReply, err: Error): FastifyReply {
  // Fastify's own errors (a bad body, say) carry their status.
  const own = (err as Error & { statusCode?: unknown }).statusCode
  const status = STATUS_BY_ERROR[err.name] ?? (typeof own === 'number' ? own : 500)
  if (status >= 500) log.error('request failed - %e', err)
  return reply.code(status).send({ error: { code: status, name: err.name, message: err.message } })
}
