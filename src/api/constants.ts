/** The node's HTTP API listens here unless the config says otherwise; the CLI's commands look for it here. */
export const DEFAULT_API_HOST = '127.0.0.1'
export const DEFAULT_API_PORT = 31417

/**
 * How long and how many clients may hold the API's sockets. Fastify waits
 * forever for a request's body, and neither it nor Node bounds the count, so
 * a client sending a byte now and then on many connections held them all.
 */
export interface ApiConnectionLimits {
  /** From a connection's first byte to the end of a request's headers. */
  headersTimeoutMs: number
  /** To the end of the whole request, body included (an inference body is at most a few MB, on loopback). */
  requestTimeoutMs: number
  /** An idle keep-alive connection between requests. */
  keepAliveTimeoutMs: number
  /** Open connections at once; past it new ones are closed unanswered. */
  maxConnections: number
  /** How often Node looks for requests past their timeouts (its own default is 30 s). */
  checkEveryMs: number
}

export const API_CONNECTION_LIMITS: ApiConnectionLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 10_000,
  maxConnections: 256,
  checkEveryMs: 1_000
}
