import { createHash, timingSafeEqual } from 'node:crypto'
import { isIP } from 'node:net'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { parseApiHost, type ApiHost } from '../node-config.js'
import { ForbiddenHostError, ForbiddenOriginError, sendError, UnauthorizedError } from './errors.js'
import { PAGE_PATHS } from './page/route.js'

/** Answered without a token: load balancers and supervisors probe it. */
export const HEALTH_PATH = '/health'

/**
 * Routes answered without a token: the health probe, and the status page and
 * its assets, which hold no data (the page asks for the token and sends it to /status).
 */
const PUBLIC_PATHS = new Set<string>([HEALTH_PATH, ...PAGE_PATHS])

/** Methods a browser sends cross-origin without asking first, and that change nothing here. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]']

export interface AccessInit {
  /** Extra names the API answers to: `name` (any port) or `name:port`, as in the Host header. */
  allowedHosts?: readonly string[]
  /** When set, every route but the public ones (health, the status page) needs `Authorization: Bearer TOKEN`. */
  token?: string
}

/**
 * Who may use the API, checked on every request before its body is read:
 *
 * - the Host header must name the API itself (its address and port, localhost,
 *   127.0.0.1 or [::1] on its port, or an `allowedHosts` entry), so a page on
 *   a name rebound to 127.0.0.1 is refused;
 * - a state-changing request that carries a browser's Origin must come from
 *   one of those same hosts, so another site's page cannot post to it (a
 *   request without Origin, as from the CLI or curl, is not a browser's);
 * - with a token, every route but PUBLIC_PATHS needs it.
 */
export class AccessPolicy {
  private readonly configured: ApiHost[]
  private own: ApiHost[] = []
  private readonly tokenDigest?: Buffer

  constructor (init: AccessInit = {}) {
    this.configured = (init.allowedHosts ?? []).map(entry => {
      const host = parseApiHost(entry)
      if (host == null) throw new TypeError(`api.allowedHosts: "${entry}" is not a host name, [IPv6] address or either with :port`)
      return host
    })
    if (init.token != null) this.tokenDigest = digest(init.token)
  }

  /** The address the server listens on, known once it is listening (port 0 picks one). */
  listening (host: string, port: number): void {
    const names = [...LOOPBACK_NAMES]
    // A wildcard address is not a name anyone reaches the API by.
    if (host !== '0.0.0.0' && host !== '::') names.push(isIP(host) === 6 ? `[${host.toLowerCase()}]` : host.toLowerCase())
    this.own = names.map(name => ({ name, port }))
  }

  register (app: FastifyInstance): void {
    app.addHook('onRequest', async (request, reply) => this.check(request, reply))
  }

  private async check (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const hostHeader = request.headers.host
    const host = hostHeader != null ? parseApiHost(hostHeader) : undefined
    if (host == null || !this.allows(host.name, host.port ?? 80)) {
      return sendError(reply, new ForbiddenHostError(`Host ${JSON.stringify((hostHeader ?? '').slice(0, 100))} is not this API's address; a name it is reached by must be listed in api.allowedHosts`))
    }
    const origin = request.headers.origin
    if (origin != null && !SAFE_METHODS.has(request.method) && !this.allowsOrigin(origin)) {
      return sendError(reply, new ForbiddenOriginError(`${request.method} from the web origin ${JSON.stringify(origin.slice(0, 100))} is refused: only this API's own origin may change its state`))
    }
    if (this.tokenDigest == null || (request.routeOptions.url != null && PUBLIC_PATHS.has(request.routeOptions.url))) return undefined
    const presented = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? '')?.[1]
    if (presented == null) {
      reply.header('www-authenticate', 'Bearer realm="herd"')
      return sendError(reply, new UnauthorizedError('this API needs a token: send Authorization: Bearer TOKEN (herd: --api-token or $HERD_API_TOKEN)'))
    }
    // Digests of both, compared in constant time: neither the content nor the length of the token leaks through timing.
    if (!timingSafeEqual(digest(presented), this.tokenDigest)) {
      reply.header('www-authenticate', 'Bearer realm="herd", error="invalid_token"')
      return sendError(reply, new UnauthorizedError('the API token does not match'))
    }
    return undefined
  }

  private allows (name: string, port: number): boolean {
    return [...this.own, ...this.configured].some(h => h.name === name && (h.port == null || h.port === port))
  }

  private allowsOrigin (origin: string): boolean {
    let url: URL
    try {
      url = new URL(origin)
    } catch {
      // "null" (a sandboxed frame, a file) and anything unparsable are not this API.
      return false
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false
    return this.allows(url.hostname, url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80)
  }
}

function digest (token: string): Buffer {
  return createHash('sha256').update(token).digest()
}
