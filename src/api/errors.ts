import { logger } from '@libp2p/logger'
import type { FastifyReply } from 'fastify'
import { asInferError, InferError, type InferErrorCode } from '../inference/infer-errors.js'

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

/** No route for the method and path. */
export class NoRouteError extends Error {
  override readonly name = 'NoRouteError'
}

/** A blob the request needs in the cache (to unpin it) is not there. */
export class NotCachedError extends Error {
  override readonly name = 'NotCachedError'
}

/** A request that is malformed in a way no other named error says (a bad receipt ID). */
export class BadRequestError extends Error {
  override readonly name = 'BadRequestError'
}

/** A receipt this node never issued, or sealed longer ago than it keeps. */
export class UnknownReceiptError extends Error {
  override readonly name = 'UnknownReceiptError'
}

/** A receipt set aside (its bundle refused), never to be sealed. */
export class ReceiptSetAsideError extends Error {
  override readonly name = 'ReceiptSetAsideError'
}

/** As many callers as the route allows already wait on it. */
export class TooManyWaitingError extends Error {
  override readonly name = 'TooManyWaitingError'
}

/** The codes of the API's error bodies: the inference protocol's, and the ones only HTTP needs. */
export type ApiErrorCode = InferErrorCode | 'UNAUTHORIZED' | 'FORBIDDEN' | 'NOT_FOUND' | 'CONFLICT' | 'RANGE_NOT_SATISFIABLE'

/**
 * The HTTP status of each code: the caller's fault is 4xx, the node's or the
 * mesh's 5xx. A full cache or a blob evicted before it could be opened is
 * UNAVAILABLE (503: the same request may pass later, or on another node);
 * no peer and no Walrus read supplying a blob is BAD_GATEWAY (502: the
 * origin behind this node failed) — docs/api.md.
 */
export const HTTP_STATUS_BY_CODE: Record<ApiErrorCode, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  UNKNOWN_MODEL: 404,
  CONFLICT: 409,
  TOO_LARGE: 413,
  RANGE_NOT_SATISFIABLE: 416,
  BUSY: 429,
  INTERNAL: 500,
  BAD_GATEWAY: 502,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504
}

/**
 * The code of the errors only the API raises or sees outside inference;
 * every other name takes the inference layer's code (infer-errors.ts), so
 * one error has one status on every route.
 */
const API_CODE_BY_ERROR_NAME: Record<string, ApiErrorCode> = {
  BadRequestError: 'BAD_REQUEST',
  InvalidArgumentError: 'BAD_REQUEST',
  UnauthorizedError: 'UNAUTHORIZED',
  ForbiddenHostError: 'FORBIDDEN',
  ForbiddenOriginError: 'FORBIDDEN',
  NoRouteError: 'NOT_FOUND',
  NotCachedError: 'NOT_FOUND',
  UnknownReceiptError: 'NOT_FOUND',
  ReceiptSetAsideError: 'CONFLICT',
  TooManyWaitingError: 'BUSY',
  NotFoundError: 'NOT_FOUND',
  BlobNotFoundError: 'NOT_FOUND',
  UnregisteredBlobError: 'NOT_FOUND',
  RangeNotSatisfiableError: 'RANGE_NOT_SATISFIABLE',
  RelayTooLargeError: 'TOO_LARGE'
}

/** Fastify's own errors (a bad body, say) carry a status: the code that gives it. */
function codeOfStatus (status: number): ApiErrorCode {
  const code = (Object.keys(HTTP_STATUS_BY_CODE) as ApiErrorCode[]).find(c => HTTP_STATUS_BY_CODE[c] === status && c !== 'UNKNOWN_MODEL')
  return code ?? (status >= 400 && status < 500 ? 'BAD_REQUEST' : 'INTERNAL')
}

export interface ErrorBody {
  error: { code: ApiErrorCode, name: string, message: string }
}

/** The one error body of every route, `{ error: { code, name, message } }`, and its status. */
export function errorBody (err: Error): { status: number, body: ErrorBody } {
  const own = (err as Error & { statusCode?: unknown }).statusCode
  const code = err instanceof InferError
    ? err.code
    : API_CODE_BY_ERROR_NAME[err.name] ?? asInferError(err)?.code ?? (typeof own === 'number' ? codeOfStatus(own) : 'INTERNAL')
  return { status: HTTP_STATUS_BY_CODE[code], body: { error: { code, name: err.name, message: err.message } } }
}

export function sendError (reply: FastifyReply, err: Error): FastifyReply {
  const { status, body } = errorBody(err)
  if (status >= 500) log.error('request failed - %e', err)
  return reply.code(status).send(body)
}
