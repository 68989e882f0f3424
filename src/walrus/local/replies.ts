import type { FastifyReply } from 'fastify'
import { parseRange, RangeNotSatisfiableError } from '../../blob/byte-range.js'

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  416: 'OUT_OF_RANGE',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE'
}

/** An error in the AIP-193 shape that Walrus daemons answer with. */
export async function sendError (reply: FastifyReply, code: number, reason: string, message: string): Promise<FastifyReply> {
  return reply.code(code).type('application/json').send({
    error: {
      code,
      status: STATUS_NAMES[code] ?? 'UNKNOWN',
      message,
      details: [{ '@type': 'ErrorInfo', reason, domain: 'daemon.walrus.space', metadata: {} }]
    }
  })
}

export type RangeRequest =
  | { kind: 'whole' }
  | { kind: 'range', start: number, end: number }
  | { kind: 'invalid', message: string }

/**
 * Reads a Range header as the Walrus aggregator does: one closed range
 * `bytes=START-END` only; open, suffix and multiple ranges are refused.
 */
export function aggregatorRange (header: string | undefined, size: number): RangeRequest {
  let range
  try {
    range = parseRange(header, size)
  } catch (err) {
    if (err instanceof RangeNotSatisfiableError) return { kind: 'invalid', message: err.message }
    throw err
  }
  if (range == null) return { kind: 'whole' }
  if (range.form !== 'closed') return { kind: 'invalid', message: `unsupported range "${header?.slice(0, 100)}": only one closed range bytes=START-END is accepted` }
  return { kind: 'range', start: range.start, end: range.end }
}
