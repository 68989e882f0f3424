import { logger } from '@libp2p/logger'
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import { MAX_TX_BYTES } from '../codec.js'
import { DuplicateAnchorError, DuplicateModelError, InvalidTransactionError, LedgerStoreError, NotFoundError } from '../errors.js'
import { MAX_MODEL_REF_LENGTH } from '../validation.js'
import type { ChainStore, StoredEntry } from './chain-store.js'
import { MAX_BLOCKS_PER_PAGE, MAX_INDEX_ENTRIES_PER_PAGE } from './chain-store.js'

const log = logger('herd:chain:local:server')

export interface LedgerServerInit {
  store: ChainStore
  host?: string
  port?: number
}

function statusOf (err: unknown): number {
  if (err instanceof InvalidTransactionError) return 400
  if (err instanceof NotFoundError) return 404
  if (err instanceof DuplicateModelError || err instanceof DuplicateAnchorError) return 409
  if (err instanceof LedgerStoreError) return 503
  const status = (err as { statusCode?: number }).statusCode
  return status != null && status >= 400 && status < 500 ? status : 500
}

async function sendError (reply: FastifyReply, err: unknown): Promise<FastifyReply> {
  const code = statusOf(err)
  const error = err as Error
  if (code === 500) log.error('ledger request failed: %s', error.message)
  return reply.code(code).send({ error: { code, name: error.name ?? 'Error', message: error.message } })
}

/** An entry with its block, base64: the client checks the signed transaction itself rather than trusting these fields. */
function served<T extends object> ({ entry, block }: StoredEntry<T>): T & { block: string } {
  return { ...entry, block: Buffer.from(block).toString('base64') }
}

function integerParam (value: unknown, fallback: number, max: number): number | undefined {
  if (value == null) return fallback
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return undefined
  const n = Number(value)
  return n <= max ? n : undefined
}

/**
 * The local ledger served on loopback by `herd devnet`, so that several nodes
 * share one ledger as they would share Sui. Nodes sign their transactions; the
 * server checks each signature before accepting it.
 */
export class LedgerServer {
  private readonly init: LedgerServerInit
  private app?: FastifyInstance
  url = ''

  constructor (init: LedgerServerInit) {
    this.init = init
  }

  async start (): Promise<void> {
    if (this.app != null) return
    const { store } = this.init
    // Fastify's default (100 characters) would answer 404 for a model name of 101-128; a client encodes every character at worst.
    const app = Fastify({ logger: false, forceCloseConnections: true, routerOptions: { maxParamLength: 3 * MAX_MODEL_REF_LENGTH } })
    app.removeAllContentTypeParsers()
    app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: MAX_TX_BYTES + 1024 }, (_request, body, done) => { done(null, body) })
    app.setErrorHandler(async (err, _request, reply) => sendError(reply, err))
    app.setNotFoundHandler(async (request, reply) => reply.code(404).send({ error: { code: 404, name: 'NotFound', message: `no route ${request.method} ${request.url.split('?')[0]}` } }))

    app.post('/v1/transactions', async (request, reply) => {
      if (!Buffer.isBuffer(request.body)) {
        return sendError(reply, new InvalidTransactionError('send the signed transaction as application/octet-stream'))
      }
      const result = await store.append(new Uint8Array(request.body))
      return reply.send(result)
    })
    app.get('/v1/head', async () => ({ head: store.head() ?? null }))
    app.get('/v1/blocks', async (request, reply) => {
      const query = request.query as Record<string, unknown>
      const from = integerParam(query.from, 0, Number.MAX_SAFE_INTEGER)
      const limit = integerParam(query.limit, 100, MAX_BLOCKS_PER_PAGE)
      if (from == null || limit == null || limit === 0) {
        return sendError(reply, new InvalidTransactionError(`from must be a height and limit an integer from 1 to ${MAX_BLOCKS_PER_PAGE}`))
      }
      const blocks = await store.blocks(from, limit)
      return { blocks: blocks.map(b => ({ height: b.height, bytes: Buffer.from(b.bytes).toString('base64') })) }
    })
    app.get('/v1/index', async (request, reply) => {
      const query = request.query as Record<string, unknown>
      const limit = integerParam(query.limit, 100, MAX_INDEX_ENTRIES_PER_PAGE)
      const after = query.after
      if (limit == null || limit === 0 || (after != null && (typeof after !== 'string' || after.length > 512))) {
        return sendError(reply, new InvalidTransactionError(`after must be one key of at most 512 characters and limit an integer from 1 to ${MAX_INDEX_ENTRIES_PER_PAGE}`))
      }
      return { entries: await store.indexEntries(after as string | undefined, limit) }
    })
    app.get('/v1/models', async () => ({ models: (await store.listModels()).map(served) }))
    app.get('/v1/models/:ref', async request => served(await store.getModel((request.params as { ref: string }).ref)))
    app.get('/v1/anchors/:key', async request => served(await store.getAnchor((request.params as { key: string }).key)))
    app.get('/v1/addresses/:address/anchors', async request => ({ anchors: (await store.listAnchors((request.params as { address: string }).address)).map(served) }))

    this.url = await app.listen({ host: this.init.host ?? '127.0.0.1', port: this.init.port ?? 0 })
    this.app = app
  }

  async stop (): Promise<void> {
    const app = this.app
    this.app = undefined
    await app?.close()
  }
}
