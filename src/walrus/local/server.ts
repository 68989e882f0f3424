import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { unlink } from 'node:fs/promises'
import { Transform, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { logger } from '@libp2p/logger'
import { normalizeSuiAddress, toBase58 } from '@mysten/sui/utils'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { z } from 'zod'
import { isBlobId } from '../../blob/blob-id.js'
import { BlobIdComputer, DEFAULT_N_SHARDS } from '../../blob/blob-id-computer.js'
import { DiskBlobStore, type BlobRecord, type StoreInfo } from './disk-store.js'
import { DEFAULT_EPOCH_MS, MAX_EPOCH_MS, MIN_EPOCH_MS } from './constants.js'
import { extendBlob, MAX_EPOCHS_AHEAD } from './extend-route.js'
import { aggregatorRange, sendError } from './replies.js'
import { seededRandom } from '../../seeded-random.js'
import { originShapingSchema, ThrottleStream, type OriginShaping } from './shaping.js'

const log = logger('herd:walrus:local:server')

/** A local devnet hosts models, so it takes far more than a real publisher's 10 MiB default. */
export const DEFAULT_MAX_BLOB_BYTES = 512 * 1024 * 1024
export const DEFAULT_MAX_CONCURRENT_UPLOADS = 8
/** Expired blobs reclaimed per sweep tick: a devnet with many blobs ending at once spreads the unlinking out. */
const EXPIRATIONS_PER_TICK = 64
const PUBLISHER_QUERY = new Set(['epochs', 'permanent', 'deletable', 'force', 'reuse_resources', 'encoding_type', 'send_object_to', 'share'])

export interface LocalWalrusInit {
  dir: string
  host?: string
  port?: number
  nShards?: number
  maxBlobBytes?: number
  maxConcurrentUploads?: number
  /** Length of a devnet epoch; a blob is served until its end epoch, then its bytes are reclaimed. */
  epochMs?: number
  shaping?: Partial<OriginShaping>
  /** Seed of the failure injection. */
  seed?: number
}

export interface OriginStats {
  blobsServed: number
  bytesServed: number
  rangeRequests: number
  uploads: number
  newlyCreated: number
  alreadyCertified: number
  bytesUploaded: number
  failuresInjected: number
  rejected: number
  /** Blobs whose end epoch passed and whose bytes were reclaimed. */
  expired: number
  extensions: number
  epoch: number
  stored: { blobs: number, bytes: number }
}

class UploadTooLargeError extends Error {
  override name = 'UploadTooLargeError'
}

/** Counts bytes through and fails once they pass a limit, so an upload never outgrows it on disk. */
class ByteLimit extends Transform {
  bytes = 0
  constructor (private readonly limit: number) { super() }
  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length
    if (this.bytes > this.limit) { callback(new UploadTooLargeError(`blob is over the ${this.limit} byte limit`)); return }
    callback(null, chunk)
  }
}

interface PublisherParams { epochs: number, permanent: boolean, force: boolean, share: boolean, owner?: string }

function parseBool (value: string | undefined, name: string): boolean | string {
  if (value == null) return false
  if (value === '' || value === 'true') return true
  if (value === 'false') return false
  return `${name} must be true or false, got "${value}"`
}

/**
 * A local server with the routes and JSON shapes of a Walrus publisher and
 * aggregator. Blob IDs come from the real RS2 encoder; blobs live on disk.
 * It stands in for Walrus, which cannot be reached from here.
 */
export class LocalWalrus {
  private readonly init: LocalWalrusInit
  private readonly store: DiskBlobStore
  private readonly computer: BlobIdComputer
  private readonly random: () => number
  /** The largest upload taken: the configured limit, capped by what the encoder can take at this shard count. */
  readonly maxBlobBytes: number
  private readonly maxConcurrentUploads: number
  private readonly epochMs: number
  private shapingState: OriginShaping
  private app?: FastifyInstance
  private info?: StoreInfo
  private activeUploads = 0
  private objectCounter = 0
  private sweepTimer?: NodeJS.Timeout
  private sweeping?: Promise<void>
  private readonly counters = { blobsServed: 0, bytesServed: 0, rangeRequests: 0, uploads: 0, newlyCreated: 0, alreadyCertified: 0, bytesUploaded: 0, failuresInjected: 0, rejected: 0, expired: 0, extensions: 0 }
  url = ''

  constructor (init: LocalWalrusInit) {
    this.init = init
    this.store = new DiskBlobStore(init.dir)
    this.computer = new BlobIdComputer({ nShards: init.nShards ?? DEFAULT_N_SHARDS })
    this.random = seededRandom(init.seed ?? 1)
    this.maxBlobBytes = Math.min(init.maxBlobBytes ?? DEFAULT_MAX_BLOB_BYTES, this.computer.maxBlobBytes)
    this.maxConcurrentUploads = init.maxConcurrentUploads ?? DEFAULT_MAX_CONCURRENT_UPLOADS
    this.epochMs = init.epochMs ?? DEFAULT_EPOCH_MS
    if (!Number.isSafeInteger(this.epochMs) || this.epochMs < MIN_EPOCH_MS || this.epochMs > MAX_EPOCH_MS) throw new RangeError(`epochMs must be a whole number from ${MIN_EPOCH_MS} to ${MAX_EPOCH_MS}, not ${this.epochMs}`)
    this.shapingState = originShapingSchema.parse(init.shaping ?? {})
  }

  get nShards (): number {
    return this.computer.nShards
  }

  get shaping (): OriginShaping {
    return { ...this.shapingState }
  }

  setShaping (shaping: Partial<OriginShaping>): OriginShaping {
    this.shapingState = originShapingSchema.parse({ ...this.shapingState, ...shaping })
    return this.shaping
  }

  get stats (): OriginStats {
    return { ...this.counters, epoch: this.currentEpoch(), stored: this.store.stats }
  }

  async start (): Promise<void> {
    if (this.app != null) return
    this.info = await this.store.open(this.computer.nShards)
    const app = Fastify({ logger: false, bodyLimit: 64 * 1024, forceCloseConnections: true })
    app.setErrorHandler(async (err: { statusCode?: number, message: string }, _request, reply) => {
      const code = err.statusCode != null && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500
      if (code === 500) log.error('request failed: %s', err.message)
      return sendError(reply, code, code === 500 ? 'INTERNAL' : 'MALFORMED_REQUEST', err.message)
    })
    app.setNotFoundHandler(async (request, reply) => sendError(reply, 404, 'NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`))
    app.addHook('onSend', async (_request, reply, payload) => {
      reply.header('access-control-allow-origin', '*')
      return payload
    })
    app.get('/status', async (_request, reply) => reply.type('text/plain').send('OK'))
    app.get('/herd/v1/status', async () => this.epochInfo())
    app.get('/herd/v1/blobs/:blobId', async (request, reply) => this.serveLifetime(request, reply))
    app.post('/herd/v1/blobs/:blobId/extend', async (request, reply) => extendBlob({
      store: this.store,
      currentEpoch: () => this.currentEpoch(),
      encodedLength: size => this.encodedLength(size),
      onExtended: () => { this.counters.extensions++ }
    }, request, reply))
    app.get('/v1/blobs/:blobId', async (request, reply) => this.serveBlob(request, reply))
    app.get('/v1/blobs/:blobId/byte-range', async (request, reply) => this.serveByteRange(request, reply))
    app.get('/herd/v1/stats', async () => this.stats)
    app.get('/herd/v1/shaping', async () => this.shaping)
    app.put('/herd/v1/shaping', async (request, reply) => {
      const parsed = originShapingSchema.partial().safeParse(request.body)
      if (!parsed.success) return sendError(reply, 400, 'MALFORMED_REQUEST', z.prettifyError(parsed.error))
      return this.setShaping(parsed.data as Partial<OriginShaping>)
    })
    await app.register(async scope => {
      // Uploads are raw bytes of any content type, streamed to disk by the route itself.
      scope.removeAllContentTypeParsers()
      scope.addContentTypeParser('*', (_request, _payload, done) => { done(null) })
      scope.put('/v1/blobs', async (request, reply) => this.upload(request, reply))
    })
    this.url = await app.listen({ host: this.init.host ?? '127.0.0.1', port: this.init.port ?? 0 })
    this.app = app
    // A quarter epoch: a blob is reclaimed soon after it ends; reads already refuse it from its end epoch on.
    this.sweepTimer = setInterval(() => { this.sweeping ??= this.sweep().finally(() => { this.sweeping = undefined }) }, Math.min(Math.ceil(this.epochMs / 4), 60_000))
    this.sweepTimer.unref()
    log('listening on %s with %d shards and %d ms epochs in %s', this.url, this.nShards, this.epochMs, this.init.dir)
  }

  async stop (): Promise<void> {
    const app = this.app
    if (app == null) return
    this.app = undefined
    clearInterval(this.sweepTimer)
    await app.close()
    await this.sweeping
    await this.computer.stop()
  }

  /** The epoch now: epoch 1 starts when the store was first made, as Walrus counts from its genesis. */
  currentEpoch (): number {
    return Math.floor((Date.now() - (this.info?.genesisMs ?? Date.now())) / this.epochMs) + 1
  }

  epochInfo (): { status: 'OK', epoch: number, epochMs: number, nextEpochAt: number } {
    const genesisMs = this.info?.genesisMs ?? Date.now()
    const epoch = this.currentEpoch()
    return { status: 'OK', epoch, epochMs: this.epochMs, nextEpochAt: genesisMs + epoch * this.epochMs }
  }

  /** Reclaims the bytes of blobs past their end epoch, a bounded number a tick. */
  private async sweep (): Promise<void> {
    const epoch = this.currentEpoch()
    for (const blobId of this.store.dueBy(epoch, EXPIRATIONS_PER_TICK)) {
      try {
        const expired = await this.store.withLock(blobId, async () => {
          const record = this.store.get(blobId)
          // It may have been extended while waiting for the lock.
          return record != null && record.endEpoch <= this.currentEpoch() ? this.store.expire(blobId) : undefined
        })
        if (expired == null) continue
        this.counters.expired++
        log('blob %s (%d bytes) expired at epoch %d', blobId, expired.size, expired.endEpoch)
      } catch (err) {
        log.error('could not reclaim expired blob %s: %s', blobId, (err as Error).message)
      }
    }
  }

  /** Applies the latency and failure knobs; true when the request was failed on purpose. */
  private async shape (reply: FastifyReply, failCode: 500 | 503): Promise<boolean> {
    const { latencyMs, failureRate } = this.shapingState
    if (latencyMs > 0) await sleep(latencyMs)
    if (failureRate > 0 && this.random() < failureRate) {
      this.counters.failuresInjected++
      await sendError(reply, failCode, failCode === 503 ? 'BLOB_UNAVAILABLE' : 'INTERNAL', 'failure injected by the local Walrus')
      return true
    }
    return false
  }

  private blobRecord (request: FastifyRequest, reply: FastifyReply): BlobRecord | Promise<FastifyReply> {
    const { blobId } = request.params as { blobId: string }
    if (!isBlobId(blobId)) return sendError(reply, 400, 'INVALID_BLOB_ID', `"${blobId.slice(0, 64)}" is not a blob ID: expected 43 characters of url-safe base64`)
    const record = this.store.get(blobId)
    // The aggregator answers an expired blob as one it never held.
    if (record == null || record.expired || record.endEpoch <= this.currentEpoch()) return sendError(reply, 404, 'BLOB_NOT_FOUND', `could not find blob ${blobId}`)
    return record
  }

  private async serveLifetime (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const { blobId } = request.params as { blobId: string }
    if (!isBlobId(blobId)) return sendError(reply, 400, 'INVALID_BLOB_ID', `"${blobId.slice(0, 64)}" is not a blob ID: expected 43 characters of url-safe base64`)
    const record = this.store.get(blobId)
    if (record == null) return sendError(reply, 404, 'BLOB_NOT_FOUND', `could not find blob ${blobId}`)
    const { objectId, size, registeredEpoch, endEpoch, owner, shared } = record
    return reply.send({ blobId, objectId, size, registeredEpoch, endEpoch, ...(owner != null ? { owner } : {}), shared, expired: record.expired || endEpoch <= this.currentEpoch() })
  }

  private sendBody (reply: FastifyReply, record: BlobRecord, start: number, end: number, isGet: boolean): FastifyReply {
    reply.header('cache-control', 'public, max-age=86400, stale-while-revalidate=3600')
    reply.header('x-content-type-options', 'nosniff')
    reply.header('content-type', 'application/octet-stream')
    reply.header('content-length', String(end - start + 1))
    if (!isGet || record.size === 0) return reply.send(isGet ? Buffer.alloc(0) : undefined)
    this.counters.blobsServed++
    const throttle = new ThrottleStream(this.shapingState.bandwidthBytesPerSec, n => { this.counters.bytesServed += n })
    const source = this.store.read(record.blobId, start, end)
    source.on('error', err => throttle.destroy(err))
    return reply.send(source.pipe(throttle))
  }

  private async serveBlob (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const record = this.blobRecord(request, reply)
    if (!('blobId' in record)) return record
    if (await this.shape(reply, 503)) return reply
    const range = aggregatorRange(request.headers.range, record.size)
    if (range.kind === 'invalid') return sendError(reply, 416, 'INVALID_BYTE_RANGE', range.message)
    reply.header('etag', record.blobId)
    if (range.kind === 'whole') return this.sendBody(reply.code(200), record, 0, record.size - 1, request.method === 'GET')
    this.counters.rangeRequests++
    reply.header('content-range', `bytes ${range.start}-${range.end}/${record.size}`)
    return this.sendBody(reply.code(206), record, range.start, range.end, request.method === 'GET')
  }

  private async serveByteRange (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const record = this.blobRecord(request, reply)
    if (!('blobId' in record)) return record
    const query = request.query as Record<string, string | undefined>
    const start = Number(query.start)
    const length = Number(query.length)
    if (!/^\d+$/.test(query.start ?? '') || !/^\d+$/.test(query.length ?? '') || length === 0 || start + length > record.size) {
      return sendError(reply, 400, 'INVALID_BYTE_RANGE', `start and length must be integers with length > 0 and start + length <= ${record.size}`)
    }
    if (await this.shape(reply, 503)) return reply
    this.counters.rangeRequests++
    reply.header('etag', `${record.blobId}-${start}-${length}`)
    return this.sendBody(reply.code(200), record, start, start + length - 1, request.method === 'GET')
  }

  private parsePublisherQuery (query: Record<string, string | undefined>): PublisherParams | string {
    for (const key of Object.keys(query)) if (!PUBLISHER_QUERY.has(key)) return `unknown query parameter "${key}"`
    const epochs = query.epochs == null ? 1 : Number(query.epochs)
    if (!/^\d+$/.test(query.epochs ?? '1') || epochs < 1 || epochs > MAX_EPOCHS_AHEAD) return `epochs must be an integer from 1 to ${MAX_EPOCHS_AHEAD}`
    const flags: Record<string, boolean> = {}
    for (const name of ['permanent', 'deletable', 'force', 'reuse_resources', 'share']) {
      const value = parseBool(query[name], name)
      if (typeof value === 'string') return value
      flags[name] = value
    }
    if (query.encoding_type != null && query.encoding_type !== 'RS2') return `unsupported encoding_type "${query.encoding_type}": only RS2`
    if (query.send_object_to != null && !/^0x[0-9a-fA-F]{1,64}$/.test(query.send_object_to)) return 'send_object_to must be a Sui address'
    if (query.send_object_to != null && flags.share === true) return 'send_object_to and share cannot be used together'
    const parsed: PublisherParams = { epochs, permanent: flags.permanent === true, force: flags.force === true, share: flags.share === true }
    if (query.send_object_to != null) parsed.owner = normalizeSuiAddress(query.send_object_to.toLowerCase())
    return parsed
  }

  private async upload (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const query = request.query as Record<string, string | undefined>
    const params = this.parsePublisherQuery(query)
    if (typeof params === 'string') return this.refuse(reply, 400, 'MALFORMED_REQUEST', params)
    if (query.permanent === 'true' && query.deletable === 'true') {
      return this.refuse(reply, 400, 'INVALID_BLOB_PERSISTENCE', 'a blob cannot be both permanent and deletable')
    }
    const declared = Number(request.headers['content-length'])
    if (Number.isFinite(declared) && declared > this.maxBlobBytes) return this.tooLarge(reply)
    if (this.activeUploads >= this.maxConcurrentUploads) {
      reply.header('connection', 'close')
      this.counters.rejected++
      return reply.code(429).type('text/plain').send('too many concurrent uploads')
    }
    this.activeUploads++
    const temp = this.store.tempPath()
    try {
      const limit = new ByteLimit(this.maxBlobBytes)
      // flush: the bytes are synced to disk before the stream closes.
      await pipeline(request.raw, limit, createWriteStream(temp, { flush: true, mode: 0o644 }))
      if (await this.shape(reply, 500)) return reply
      this.counters.uploads++
      this.counters.bytesUploaded += limit.bytes
      const metadata = await this.computer.computeFile(temp)
      return await this.store.withLock(metadata.blobId, async () => {
        const epoch = this.currentEpoch()
        const endEpoch = epoch + params.epochs
        const held = this.store.get(metadata.blobId)
        // An expired blob is stored anew, as Walrus would register it from scratch.
        const existing = held != null && !held.expired && held.endEpoch > epoch ? held : undefined
        if (existing != null && !params.force && existing.endEpoch >= endEpoch) {
          this.counters.alreadyCertified++
          return reply.send({
            alreadyCertified: {
              blobId: existing.blobId,
              event: { txDigest: toBase58(createHash('sha256').update(`event:${existing.objectId}`).digest()), eventSeq: '0' },
              endEpoch: existing.endEpoch
            }
          })
        }
        const record: BlobRecord = {
          blobId: metadata.blobId,
          size: metadata.size,
          rootHash: metadata.rootHash,
          objectId: `0x${createHash('sha256').update(`object:${metadata.blobId}:${++this.objectCounter}:${randomBytes(8).toString('hex')}`).digest('hex')}`,
          registeredEpoch: epoch,
          endEpoch: Math.max(endEpoch, existing?.endEpoch ?? 0),
          permanent: params.permanent,
          storedAt: Date.now(),
          ...(params.owner != null ? { owner: params.owner } : {}),
          shared: params.share,
          expired: false
        }
        if (existing == null) await this.store.commit(temp, record)
        else await this.store.updateRecord(record)
        this.counters.newlyCreated++
        const encodedLength = this.encodedLength(metadata.size)
        return reply.send({
          newlyCreated: {
            blobObject: {
              id: record.objectId,
              registeredEpoch: epoch,
              blobId: record.blobId,
              size: record.size,
              encodingType: 'RS2',
              certifiedEpoch: epoch,
              storage: { id: `0x${createHash('sha256').update(`storage:${record.objectId}`).digest('hex')}`, startEpoch: epoch, endEpoch: record.endEpoch, storageSize: encodedLength },
              deletable: !record.permanent
            },
            resourceOperation: { registerFromScratch: { encodedLength, epochsAhead: params.epochs } },
            cost: encodedLength * params.epochs
          }
        })
      })
    } catch (err) {
      if (err instanceof UploadTooLargeError) return this.tooLarge(reply)
      if ((err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE' || request.raw.destroyed) {
        log('upload aborted by the client')
        return reply
      }
      throw err
    } finally {
      this.activeUploads--
      await unlink(temp).catch(() => {})
    }
  }

  /**
   * Walrus stores about 5x a blob, plus per-shard metadata; this estimate stands
   * in for the encoder's exact figure, which the wasm encoder does not expose.
   */
  private encodedLength (size: number): number {
    return Math.max(size, 1) * 5 + this.nShards * 64 * 2
  }

  private async refuse (reply: FastifyReply, code: number, reason: string, message: string): Promise<FastifyReply> {
    this.counters.rejected++
    // The body was not read: closing the connection spares reading it to the end.
    reply.header('connection', 'close')
    return sendError(reply, code, reason, message)
  }

  private async tooLarge (reply: FastifyReply): Promise<FastifyReply> {
    this.counters.rejected++
    reply.header('connection', 'close')
    return reply.code(413).type('text/plain').send(`blob is over the ${this.maxBlobBytes} byte limit`)
  }
}
