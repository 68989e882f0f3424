import { PassThrough, type Readable } from 'node:stream'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import { request as httpRequest, type Dispatcher } from 'undici'
import { parseBlobId, type BlobId } from '../blob/blob-id.js'
import { UnregisteredBlobError } from '../mesh/errors.js'
import type { HerdNode } from '../node.js'
import { RetryableWalrusError } from '../walrus/errors.js'
import { isTransportError } from '../walrus/retry.js'
import { AccessPolicy, HEALTH_PATH } from './access.js'
import { blobReadStream } from './blob-stream.js'
import { sendError } from './errors.js'
import { registerInferRoute } from './infer-route.js'
import { registerStatusPage } from './page/route.js'
import { registerProofRoute } from './proof-route.js'
import { herdMetrics } from './metrics.js'
import { parseRange, RangeNotSatisfiableError } from '../blob/byte-range.js'

import { DEFAULT_API_HOST } from './constants.js'

export interface ApiServerInit {
  node: HerdNode
  host?: string
  port?: number
  /** Host names the API answers to besides its own address and localhost (`name` or `name:port`). */
  allowedHosts?: readonly string[]
  /** When set, every route but GET /health needs `Authorization: Bearer TOKEN`. */
  token?: string
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
    const app = Fastify({ logger: false, forceCloseConnections: true })
    access.register(app)
    app.setErrorHandler(async (err, _request, reply) => sendError(reply, err as Error))
    app.setNotFoundHandler(async (request, reply) => reply.code(404).send({ error: { code: 404, name: 'NotFound', message: `no route ${request.method} ${request.url.split('?')[0]?.slice(0, 200) ?? ''}` } }))

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
      try {
        await node.fetcher.fetch(blobId, { signal })
      } catch (err) {
        if (err instanceof UnregisteredBlobError) return this.passThrough(blobId, request.headers.range, reply, signal)
        throw err
      }
      return this.sendCached(blobId, request.headers.range, reply)
    })
    app.post('/v1/blobs/:blobId/fetch', async (request, reply) => {
      const blobId = parseBlobId((request.params as { blobId: string }).blobId)
      return reply.type('application/x-ndjson').send(fetchEvents(node, blobId, abortOnClose(reply.raw)))
    })
    app.post('/v1/blobs/:blobId/pin', async (request, reply) => {
      const blobId = parseBlobId((request.params as { blobId: string }).blobId)
      const entry = await node.fetcher.fetch(blobId, { signal: abortOnClose(reply.raw) })
      await node.cache.pin(blobId)
      return { blobId, pinned: true, size: entry.size }
    })
    app.delete('/v1/blobs/:blobId/pin', async (request, reply) => {
      const blobId = parseBlobId((request.params as { blobId: string }).blobId)
      if (!await node.cache.unpin(blobId)) return reply.code(404).send({ error: { code: 404, name: 'NotFound', message: `blob ${blobId} is not in the cache` } })
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

  private async sendCached (blobId: BlobId, rangeHeader: string | undefined, reply: FastifyReply): Promise<FastifyReply> {
    const handle = await this.init.node.cache.open(blobId)
    if (handle == null) throw new UnregisteredBlobError(`blob ${blobId} left the cache before it could be served`)
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

  /** A blob with no registry entry cannot be checked chunk by chunk: it is relayed from the aggregator, not cached. */
  private async passThrough (blobId: BlobId, range: string | undefined, reply: FastifyReply, signal: AbortSignal): Promise<FastifyReply> {
    const aggregator = this.init.node.walrus.aggregator
    if (aggregator == null) throw new UnregisteredBlobError(`blob ${blobId} is not registered and no aggregator is configured`)
    let upstream: Dispatcher.ResponseData
    try {
      upstream = await httpRequest(new URL(`v1/blobs/${blobId}`, aggregator.href.endsWith('/') ? aggregator : `${aggregator.href}/`), {
        method: 'GET',
        headers: range != null ? { range } : {},
        signal
      })
    } catch (err) {
      if (!signal.aborted && isTransportError(err)) throw new RetryableWalrusError(`the Walrus aggregator at ${aggregator.origin} is unreachable: ${(err as Error).message}`, { cause: err })
      throw err
    }
    reply.code(upstream.statusCode)
    for (const name of ['content-type', 'content-length', 'content-range', 'accept-ranges', 'etag']) {
      const value = upstream.headers[name]
      if (typeof value === 'string') reply.header(name, value)
    }
    reply.header('x-herd-source', 'walrus-passthrough')
    return reply.send(upstream.body)
  }
}

/**
 * A fetch as newline-delimited JSON: the fetcher's progress events as they
 * happen, then `{"type":"fetch:done",…}` or `{"type":"error",…}`.
 */
function fetchEvents (node: HerdNode, blobId: BlobId, signal: AbortSignal): Readable {
  const lines = new PassThrough()
  const write = (value: unknown): void => { lines.write(`${JSON.stringify(value)}\n`) }
  const cached = node.cache.has(blobId)
  node.fetcher.fetch(blobId, { signal, onProgress: event => { if (event.type !== 'fetch:done') write(event) } })
    .then(entry => { write({ type: 'fetch:done', blobId, size: entry.size, source: cached ? 'local' : 'fetched' }) })
    .catch((err: Error) => { write({ type: 'error', error: { name: err.name, message: err.message } }) })
    .finally(() => { lines.end() })
  return lines
}

/** Aborts when the response closes: finished, or the client went away. */
function abortOnClose (raw: NodeJS.EventEmitter): AbortSignal {
  const controller = new AbortController()
  raw.once('close', () => { controller.abort(new Error('the client went away')) })
  return controller.signal
}
