import { PassThrough, type Readable } from 'node:stream'
import { logger } from '@libp2p/logger'
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import { request as httpRequest } from 'undici'
import { parseBlobId, type BlobId } from '../blob/blob-id.js'
import { UnregisteredBlobError } from '../mesh/errors.js'
import type { HerdNode } from '../node.js'
import { blobReadStream } from './blob-stream.js'
import { registerInferRoute } from './infer-route.js'
import { registerProofRoute } from './proof-route.js'
import { registerHerdMetrics } from './metrics.js'
import { parseRange, RangeNotSatisfiableError } from './range.js'

const log = logger('herd:api:server')

export const DEFAULT_API_HOST = '127.0.0.1'

export interface ApiServerInit {
  node: HerdNode
  host?: string
  port?: number
}

/** Maps herd's named errors to HTTP statuses; anything else is a 500. */
const STATUS_BY_ERROR: Record<string, number> = {
  InvalidBlobIdError: 400,
  InvalidArgumentError: 400,
  RangeNotSatisfiableError: 416,
  NotFoundError: 404,
  BlobNotFoundError: 404,
  UnregisteredBlobError: 404,
  CacheFullError: 507,
  BlobUnavailableError: 502,
  RetryableWalrusError: 502
}

function sendError (reply: FastifyReply, err: Error): FastifyReply {
  // Fastify's own errors (a bad body, say) carry their status.
  const own = (err as Error & { statusCode?: unknown }).statusCode
  const status = STATUS_BY_ERROR[err.name] ?? (typeof own === 'number' ? own : 500)
  if (status >= 500) log.error('request failed - %e', err)
  return reply.code(status).send({ error: { code: status, name: err.name, message: err.message } })
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
    registerHerdMetrics(node, node.metrics)
    const app = Fastify({ logger: false, forceCloseConnections: true })
    app.setErrorHandler(async (err, _request, reply) => sendError(reply, err as Error))
    app.setNotFoundHandler(async (request, reply) => reply.code(404).send({ error: { code: 404, name: 'NotFound', message: `no route ${request.method} ${request.url.split('?')[0]}` } }))

    app.get('/status', async () => node.status())
    registerInferRoute(app, node)
    registerProofRoute(app, node)
    app.get('/metrics', async (_request, reply) => {
      return reply.type(node.metrics.contentType).send(await node.metrics.metrics())
    })
    app.get('/v1/blobs/:blobId', async (request, reply) => {
      const blobId = parseBlobId((request.params as { blobId: string }).blobId)
      const signal = abortOnClose(reply.raw)
      try {
        await node.fetcher.fetch(blobId, { signal })
      } catch (err) {
        if (err instanceof UnregisteredBlobError) return this.passThrough(blobId, request.headers.range, reply)
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

    this.url = await app.listen({ host: this.init.host ?? DEFAULT_API_HOST, port: this.init.port ?? 0 })
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
  private async passThrough (blobId: BlobId, range: string | undefined, reply: FastifyReply): Promise<FastifyReply> {
    const aggregator = this.init.node.walrus.aggregator
    if (aggregator == null) throw new UnregisteredBlobError(`blob ${blobId} is not registered and no aggregator is configured`)
    const upstream = await httpRequest(new URL(`v1/blobs/${blobId}`, aggregator.href.endsWith('/') ? aggregator : `${aggregator.href}/`), {
      method: 'GET',
      headers: range != null ? { range } : {}
    })
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
