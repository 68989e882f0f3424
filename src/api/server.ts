import { join } from 'node:path'
import { PassThrough, type Readable } from 'node:stream'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import { parseBlobId, type BlobId } from '../blob/blob-id.js'
import type { BlobHandle } from '../blob/cache/index.js'
import { UnregisteredBlobError } from '../mesh/errors.js'
import type { HerdNode } from '../node.js'
import { AccessPolicy, HEALTH_PATH } from './access.js'
import { blobReadStream } from './blob-stream.js'
import { errorBody, NoRouteError, NotCachedError, sendError } from './errors.js'
import { registerInferRoute } from './infer-route.js'
import { registerStatusPage } from './page/route.js'
import { registerProofRoute } from './proof-route.js'
import { herdMetrics } from './metrics.js'
import { parseRange, RangeNotSatisfiableError } from '../blob/byte-range.js'
import { relayUnregistered } from './relay.js'

import { API_CONNECTION_LIMITS, DEFAULT_API_HOST, type ApiConnectionLimits } from './constants.js'

export interface ApiServerInit {
  node: HerdNode
  host?: string
  port?: number
  /** Host names the API answers to besides its own address and localhost (`name` or `name:port`). */
  allowedHosts?: readonly string[]
  /** When set, every route but GET /health needs `Authorization: Bearer TOKEN`. */
  token?: string
  /** API_CONNECTION_LIMITS unless given. */
  limits?: Partial<ApiConnectionLimits>
}

/**
 * The node's local HTTP API: status, Prometheus metrics, pins, and the Walrus
 * aggregator's blob route served from the cache and the mesh, so any Walrus
 * client can use its node as an aggregator.
 */
export class ApiServer {
  private readonly init: ApiServerInit
  private app?: FastifyInstance
  url = ''

  constructor (init: ApiServerInit) {
    this.init = init
  }

  async start (): Promise<void> {
    if (this.app != null) return
    const { node } = this.init
    const metrics = herdMetrics(node)
    const access = new AccessPolicy({ ...(this.init.allowedHosts != null ? { allowedHosts: this.init.allowedHosts } : {}), ...(this.init.token != null ? { token: this.init.token } : {}) })
    const limits = { ...API_CONNECTION_LIMITS, ...this.init.limits }
    const app = Fastify({
      logger: false,
      forceCloseConnections: true,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      http: { headersTimeout: limits.headersTimeoutMs, connectionsCheckingInterval: limits.checkEveryMs }
    })
    app.server.maxConnections = limits.maxConnections
    access.register(app)
    app.setErrorHandler(async (err, _request, reply) => sendError(reply, err as Error))
    app.setNotFoundHandler(async (request, reply) => sendError(reply, new NoRouteError(`no route ${request.method} ${request.url.split('?')[0]?.slice(0, 200) ?? ''}`)))

    app.get(HEALTH_PATH, async () => ({ status: 'ok' }))
    registerStatusPage(app)
    app.get('/status', async () => node.status())
    app.get('/v1/storage', async () => ({ status: node.status().storage, blobs: node.storageBlobs() }))
    registerInferRoute(app, node)
    registerProofRoute(app, node)
    app.get('/metrics', async (_request, reply) => {
      return reply.type(metrics.contentType).send(await metrics.scrape())
    })
    app.get('/v1/blobs/:blobId', async (request, reply) => {
      const blobId = parseBlobId((request.params as { blobId: string }).blobId)
      const signal = abortOnClose(reply.raw)
      let handle: BlobHandle
      try {
        handle = await node.fetcher.open(blobId, { signal })
      } catch (err) {
        if (err instanceof UnregisteredBlobError) return relayUnregistered({ walrus: node.walrus, tmpDir: join(node.config.dataDir, 'tmp') }, blobId, request.headers.range, reply, signal)
        throw err
      }
      return sendCached(handle, request.headers.range, reply)
    })
    app.post('/v1/blobs/:blobId/fetch', async (request, reply) => {
      const blobId = parseBlobId((request.params as { blobId: string }).blobId)
      return reply.type('application/x-ndjson').send(fetchEvents(node, blobId, abortOnClose(reply.raw)))
    })
    app.post('/v1/blobs/:blobId/pin', async (request, reply) => {
      const blobId = parseBlobId((request.params as { blobId: string }).blobId)
      // Held open while it is pinned: an eviction between the fetch and the pin cannot take it.
      const handle = await node.fetcher.open(blobId, { signal: abortOnClose(reply.raw) })
      try {
        await node.cache.pin(blobId)
      } finally {
        handle.release()
      }
      return { blobId, pinned: true, size: handle.size }
    })
    app.delete('/v1/blobs/:blobId/pin', async (request, reply) => {
      const blobId = parseBlobId((request.params as { blobId: string }).blobId)
      if (!await node.cache.unpin(blobId)) throw new NotCachedError(`blob ${blobId} is not in the cache`)
      return { blobId, pinned: false }
    })

    const host = this.init.host ?? DEFAULT_API_HOST
    this.url = await app.listen({ host, port: this.init.port ?? 0 })
    access.listening(host, (app.server.address() as AddressInfo).port)
    this.app = app
  }

  async stop (): Promise<void> {
    const app = this.app
    this.app = undefined
    await app?.close()
  }
}

/** A cached blob, whole or one range, each chunk re-hashed as it is streamed; the handle is released when the stream ends. */
function sendCached (handle: BlobHandle, rangeHeader: string | undefined, reply: FastifyReply): FastifyReply {
  let range
  try {
    range = parseRange(rangeHeader, handle.size)
  } catch (err) {
    handle.release()
    if (err instanceof RangeNotSatisfiableError) reply.header('content-range', `bytes */${handle.size}`)
    throw err
  }
  reply.header('accept-ranges', 'bytes').type('application/octet-stream')
  if (range != null) {
    reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${handle.size}`).header('content-length', range.end - range.start + 1)
  } else {
    reply.header('content-length', handle.size)
  }
  return reply.send(blobReadStream(handle, range))
}

/**
 * A fetch as newline-delimited JSON: the fetcher's own progress events as
 * they happen, its `fetch:done` last, or `{"type":"error","error":{code,name,message}}`.
 */
function fetchEvents (node: HerdNode, blobId: BlobId, signal: AbortSignal): Readable {
  const lines = new PassThrough()
  const write = (value: unknown): void => { lines.write(`${JSON.stringify(value)}\n`) }
  node.fetcher.open(blobId, { signal, onProgress: write })
    .then(handle => { handle.release() })
    .catch((err: Error) => { write({ type: 'error', ...errorBody(err).body }) })
    .finally(() => { lines.end() })
  return lines
}

/** Aborts when the response closes: finished, or the client went away. */
function abortOnClose (raw: NodeJS.EventEmitter): AbortSignal {
  const controller = new AbortController()
  raw.once('close', () => { controller.abort(new Error('the client went away')) })
  return controller.signal
}
