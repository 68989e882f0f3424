import { randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, rename, stat, unlink } from 'node:fs/promises'
import { logger } from '@libp2p/logger'
import type { Signer } from '@mysten/sui/cryptography'
import { Agent, request, type Dispatcher } from 'undici'
import { parseBlobId } from '../blob/blob-id.js'
import { readBoundedText } from './bounded-body.js'
import { extendMessage } from './extend-message.js'
import { BlobExpiredError, BlobNotFoundError, NotBlobOwnerError, RetryableWalrusError, StaleEndEpochError, WalrusError, WalrusProtocolError, WalrusRequestError } from './errors.js'
import { parseBlobLifetime, parseEpochInfo, parseErrorBody, parseExtendReply, parsePublisherReply } from './responses.js'
import { isTransportError, RetryableError, withRetries } from '../retry.js'
import type { BlobLifetime, ByteRange, EpochInfo, ExtendRequest, ExtendResult, GetOptions, PutOptions, ReadRangeOptions, StoredBlob, WalrusStore } from './types.js'

const log = logger('herd:walrus:http-client')

export const DEFAULT_RETRIES = 4
export const DEFAULT_RETRY_BASE_MS = 250
export const DEFAULT_RETRY_MAX_MS = 5_000
export const DEFAULT_HEADERS_TIMEOUT_MS = 30_000
/** A publisher answers only after encoding and storing the whole blob: minutes for a large one. */
export const DEFAULT_PUBLISH_TIMEOUT_MS = 10 * 60_000
/** Longest silence inside a body before the transfer counts as stalled. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000
/** readRange holds its answer in memory: keep it to chunk sizes. */
export const MAX_RANGE_READ_BYTES = 64 * 1024 * 1024
const MAX_EPOCHS = 53

export interface WalrusHttpClientInit {
  /** Publisher base URL, for writes. */
  publisher?: string
  /** Aggregator base URL, for reads. */
  aggregator?: string
  retries?: number
  retryBaseDelayMs?: number
  retryMaxDelayMs?: number
  headersTimeoutMs?: number
  /** Time a publisher may take to answer once the upload is sent. */
  publishTimeoutMs?: number
  idleTimeoutMs?: number
  dispatcher?: Dispatcher
  /** Signs extensions of the blobs it owns (the local Walrus's stand-in for `extend_blob`): the node key. */
  signer?: Signer
}

function baseUrl (url: string, role: string): URL {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new WalrusError(`${role} URL is not a URL: ${url}`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new WalrusError(`${role} URL must be http or https: ${url}`)
  if (!parsed.pathname.endsWith('/')) parsed.pathname += '/'
  return parsed
}

function isAbort (err: unknown, signal?: AbortSignal): boolean {
  return signal?.aborted === true || (err as Error)?.name === 'AbortError'
}

/** Undici's connection and timeout errors are worth retrying; anything else is ours. */
function asWalrusError (err: unknown, what: string, signal?: AbortSignal): unknown {
  if (isAbort(err, signal) || err instanceof WalrusError || err instanceof RetryableError) return err
  if (isTransportError(err)) {
    return new RetryableWalrusError(`${what}: ${(err as Error).message}`, { cause: err })
  }
  return err
}

/** An error body says why in a line or two: a server that sends more is cut off there rather than held in memory. */
const ERROR_BODY_LIMIT = 64 * 1024

async function failure (response: Dispatcher.ResponseData, what: string): Promise<Error> {
  const text = await readBoundedText(response.body, ERROR_BODY_LIMIT, () => new WalrusProtocolError(`${what}: error body over ${ERROR_BODY_LIMIT} bytes`)).catch(() => '')
  const { message, reason } = parseErrorBody(text)
  const detail = `${what}: ${response.statusCode}${reason != null ? ` ${reason}` : ''}${message !== '' ? ` - ${message}` : ''}`
  if (response.statusCode === 404) return new BlobNotFoundError(detail, 404, reason)
  if (reason === 'BLOB_EXPIRED') return new BlobExpiredError(detail, response.statusCode, reason)
  if (reason === 'NOT_OWNER') return new NotBlobOwnerError(detail, response.statusCode, reason)
  if (reason === 'STALE_END_EPOCH') return new StaleEndEpochError(detail, response.statusCode, reason)
  if (response.statusCode === 429 || response.statusCode >= 500) return new RetryableWalrusError(detail, { status: response.statusCode })
  return new WalrusRequestError(detail, response.statusCode, reason)
}

function parseContentRange (header: unknown): { start: number, end: number, total: number } {
  const match = typeof header === 'string' ? /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header) : null
  if (match == null) throw new WalrusProtocolError(`206 answer without a valid Content-Range: ${String(header)}`)
  return { start: Number(match[1]), end: Number(match[2]), total: Number(match[3]) }
}

/**
 * A client of any Walrus publisher and aggregator over their HTTP API: bodies
 * stream from and to disk, 5xx and dropped connections are retried with
 * backoff (a read resumes where it stopped), 4xx fails at once.
 */
export class WalrusHttpClient implements WalrusStore {
  readonly publisher?: URL
  readonly aggregator?: URL
  private readonly retries: number
  private readonly retryBaseDelayMs: number
  private readonly retryMaxDelayMs: number
  private readonly publishTimeoutMs: number
  private readonly dispatcher: Dispatcher
  private readonly signer?: Signer

  constructor (init: WalrusHttpClientInit) {
    if (init.publisher != null) this.publisher = baseUrl(init.publisher, 'publisher')
    if (init.aggregator != null) this.aggregator = baseUrl(init.aggregator, 'aggregator')
    this.retries = init.retries ?? DEFAULT_RETRIES
    this.retryBaseDelayMs = init.retryBaseDelayMs ?? DEFAULT_RETRY_BASE_MS
    this.retryMaxDelayMs = init.retryMaxDelayMs ?? DEFAULT_RETRY_MAX_MS
    this.publishTimeoutMs = init.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS
    this.dispatcher = init.dispatcher ?? new Agent({
      headersTimeout: init.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
      bodyTimeout: init.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      connectTimeout: init.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS
    })
    if (init.signer != null) this.signer = init.signer
  }

  /** The current epoch, from the local Walrus's `/herd/v1/status` (public aggregators do not say). */
  async epoch (options: { signal?: AbortSignal } = {}): Promise<EpochInfo> {
    return parseEpochInfo(await this.herdJson('GET', this.herdUrl('herd/v1/status', this.aggregator ?? this.publisher), undefined, options.signal))
  }

  /** A blob's end epoch, owner and whether it expired, from the local Walrus; undefined when it never held the blob. */
  async lifetime (blobId: string, options: { signal?: AbortSignal } = {}): Promise<BlobLifetime | undefined> {
    const url = this.herdUrl(`herd/v1/blobs/${parseBlobId(blobId)}`, this.aggregator ?? this.publisher)
    try {
      return parseBlobLifetime(await this.herdJson('GET', url, undefined, options.signal))
    } catch (err) {
      if (err instanceof BlobNotFoundError) return undefined
      throw err
    }
  }

  /**
   * Extends a blob on the local Walrus, signed by the node key as its owner
   * (a shared blob needs no signature). Not retried on a 409: the caller
   * reads the blob's lifetime to learn whether an earlier try went through.
   */
  async extend (request: ExtendRequest, options: { signal?: AbortSignal } = {}): Promise<ExtendResult> {
    const blobId = parseBlobId(request.blobId)
    const body: Record<string, unknown> = { currentEndEpoch: request.currentEndEpoch, endEpoch: request.endEpoch }
    if (request.shared !== true) {
      if (this.signer == null) throw new WalrusError(`extending blob ${blobId} needs the owner's key`)
      body.signature = (await this.signer.signPersonalMessage(extendMessage(blobId, request.currentEndEpoch, request.endEpoch))).signature
    }
    return parseExtendReply(await this.herdJson('POST', this.herdUrl(`herd/v1/blobs/${blobId}/extend`, this.publisher), body, options.signal))
  }

  async putFile (path: string, options: PutOptions = {}): Promise<StoredBlob> {
    const { size } = await stat(path)
    return this.put(() => createReadStream(path), size, options)
  }

  async putBytes (bytes: Uint8Array, options: PutOptions = {}): Promise<StoredBlob> {
    return this.put(() => bytes, bytes.byteLength, options)
  }

  async getToFile (blobId: string, path: string, options: GetOptions = {}): Promise<{ bytes: number }> {
    const url = this.blobUrl(blobId)
    const { signal, onProgress } = options
    const temp = `${path}.${randomBytes(6).toString('hex')}.part`
    const file = await open(temp, 'w', 0o644)
    let written = 0
    let expected: number | undefined
    let last: number | undefined
    try {
      await withRetries(async () => {
        // A retry asks only for what is still missing.
        const first = options.range?.start ?? 0
        const headers: Record<string, string> = {}
        if (options.range != null || written > 0) {
          if (last == null && options.range != null) last = options.range.end
          headers.range = `bytes=${first + written}-${last}`
        }
        let response: Dispatcher.ResponseData
        try {
          response = await request(url, { method: 'GET', headers, dispatcher: this.dispatcher, signal })
        } catch (err) { throw asWalrusError(err, `GET ${url.pathname}`, signal) }
        if (response.statusCode !== 200 && response.statusCode !== 206) throw await failure(response, `GET ${url.pathname}`)
        if (headers.range != null) {
          if (response.statusCode !== 206) {
            await response.body.dump()
            throw new WalrusProtocolError(`aggregator ignored the Range header (answered ${response.statusCode})`)
          }
          const contentRange = parseContentRange(response.headers['content-range'])
          if (contentRange.start !== first + written) throw new WalrusProtocolError(`asked for bytes from ${first + written}, got ${contentRange.start}`)
          if (expected == null) {
            last = contentRange.end
            expected = contentRange.end - first + 1
          }
        } else {
          const length = Number(response.headers['content-length'])
          if (!Number.isSafeInteger(length)) throw new WalrusProtocolError('aggregator answered without a Content-Length')
          expected = length
          last = length - 1
        }
        try {
          for await (const piece of response.body as AsyncIterable<Buffer>) {
            if (written + piece.length > (expected ?? 0)) throw new WalrusProtocolError('aggregator sent more bytes than it announced')
            await file.write(piece, 0, piece.length, written)
            written += piece.length
            onProgress?.({ type: 'walrus:read', blobId, bytes: written, total: expected ?? 0 })
          }
        } catch (err) { throw asWalrusError(err, `reading ${url.pathname}`, signal) }
        if (written !== expected) throw new RetryableWalrusError(`body of ${url.pathname} ended after ${written} of ${expected} bytes`)
      }, this.retryOptions(signal, `GET ${url.pathname}`))
      await file.sync()
      await file.close()
      await rename(temp, path)
      return { bytes: written }
    } catch (err) {
      await file.close().catch(() => {})
      await unlink(temp).catch(() => {})
      throw err
    }
  }

  async readRange (blobId: string, range: ByteRange, options: ReadRangeOptions = {}): Promise<Uint8Array> {
    const url = this.blobUrl(blobId)
    const length = range.end - range.start + 1
    if (!Number.isSafeInteger(range.start) || range.start < 0 || !(length >= 1 && length <= MAX_RANGE_READ_BYTES)) {
      throw new WalrusError(`byte range ${range.start}-${range.end} is empty, negative or over ${MAX_RANGE_READ_BYTES} bytes`)
    }
    const { signal, onData } = options
    // Sized by the first answer's Content-Range (a range past the blob's end is cut there); bytes land in place as they arrive.
    let bytes: Uint8Array | undefined
    let received = 0
    return withRetries(async () => {
      // A retry asks only for what is still missing: what arrived was handed to onData already.
      const from = range.start + received
      let response: Dispatcher.ResponseData
      try {
        response = await request(url, { method: 'GET', headers: { range: `bytes=${from}-${range.end}` }, dispatcher: this.dispatcher, signal })
      } catch (err) { throw asWalrusError(err, `GET ${url.pathname}`, signal) }
      if (response.statusCode !== 206) {
        if (response.statusCode === 200) await response.body.dump()
        throw response.statusCode === 200
          ? new WalrusProtocolError('aggregator ignored the Range header')
          : await failure(response, `GET ${url.pathname}`)
      }
      const contentRange = parseContentRange(response.headers['content-range'])
      const end = bytes == null ? contentRange.end : range.start + bytes.byteLength - 1
      if (contentRange.start !== from || contentRange.end > range.end || contentRange.end !== end) {
        await response.body.dump()
        throw new WalrusProtocolError(`asked for bytes ${from}-${range.end}, got ${contentRange.start}-${contentRange.end}`)
      }
      const into = bytes ??= new Uint8Array(contentRange.end - range.start + 1)
      try {
        for await (const piece of response.body as AsyncIterable<Buffer>) {
          if (received + piece.byteLength > into.byteLength) throw new WalrusProtocolError(`aggregator sent more than bytes ${from}-${contentRange.end}`)
          into.set(piece, received)
          const offset = range.start + received
          received += piece.byteLength
          onData?.(into.subarray(offset - range.start, received), offset)
        }
      } catch (err) { throw asWalrusError(err, `reading ${url.pathname}`, signal) }
      if (received !== into.byteLength) throw new RetryableWalrusError(`range body of ${url.pathname} was cut short`)
      return into
    }, this.retryOptions(signal, `GET ${url.pathname}`))
  }

  async close (): Promise<void> {
    await this.dispatcher.close()
  }

  private async put (body: () => NodeJS.ReadableStream | Uint8Array, size: number, options: PutOptions): Promise<StoredBlob> {
    if (this.publisher == null) throw new WalrusError('no publisher URL configured: writes need one (mainnet has no public publisher; pass --publisher or --walrus)')
    const url = new URL('v1/blobs', this.publisher)
    const { epochs, permanent, deletable, sendObjectTo, share, signal } = options
    if (epochs != null) {
      if (!Number.isInteger(epochs) || epochs < 1 || epochs > MAX_EPOCHS) throw new WalrusError(`epochs must be an integer from 1 to ${MAX_EPOCHS}, got ${epochs}`)
      url.searchParams.set('epochs', String(epochs))
    }
    if (permanent === true && deletable === true) throw new WalrusError('a blob cannot be both permanent and deletable')
    if (permanent === true) url.searchParams.set('permanent', 'true')
    if (deletable === true) url.searchParams.set('deletable', 'true')
    if (sendObjectTo != null) {
      if (!/^0x[0-9a-fA-F]{1,64}$/.test(sendObjectTo)) throw new WalrusError(`send_object_to must be a Sui address (0x and hex), got ${sendObjectTo}`)
      url.searchParams.set('send_object_to', sendObjectTo)
    }
    if (share === true) {
      if (sendObjectTo != null) throw new WalrusError('a blob is either shared or sent to an address, not both')
      url.searchParams.set('share', 'true')
    }
    return withRetries(async () => {
      let response: Dispatcher.ResponseData
      try {
        response = await request(url, {
          method: 'PUT',
          body: body() as any,
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
          dispatcher: this.dispatcher,
          headersTimeout: this.publishTimeoutMs,
          signal
        })
      } catch (err) { throw asWalrusError(err, 'PUT /v1/blobs', signal) }
      if (response.statusCode !== 200) throw await failure(response, 'PUT /v1/blobs')
      let json: unknown
      try {
        json = await response.body.json()
      } catch (err) {
        throw new WalrusProtocolError(`publisher answered 200 with a body that is not JSON: ${(err as Error).message}`)
      }
      return parsePublisherReply(json)
    }, this.retryOptions(signal, 'PUT /v1/blobs'))
  }

  private herdUrl (path: string, base: URL | undefined): URL {
    if (base == null) throw new WalrusError('no Walrus URL configured')
    return new URL(path, base)
  }

  private async herdJson (method: 'GET' | 'POST', url: URL, body: unknown, signal: AbortSignal | undefined): Promise<unknown> {
    const what = `${method} ${url.pathname}`
    return withRetries(async () => {
      let response: Dispatcher.ResponseData
      try {
        response = await request(url, {
          method,
          ...(body != null ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
          dispatcher: this.dispatcher,
          signal
        })
      } catch (err) { throw asWalrusError(err, what, signal) }
      if (response.statusCode !== 200) throw await failure(response, what)
      try {
        return await response.body.json()
      } catch (err) {
        throw new WalrusProtocolError(`${what} answered 200 with a body that is not JSON: ${(err as Error).message}`)
      }
    }, this.retryOptions(signal, what))
  }

  private blobUrl (blobId: string): URL {
    if (this.aggregator == null) throw new WalrusError('no aggregator URL configured: reads need one')
    return new URL(`v1/blobs/${parseBlobId(blobId)}`, this.aggregator)
  }

  private retryOptions (signal: AbortSignal | undefined, what: string): Parameters<typeof withRetries>[1] {
    return {
      retries: this.retries,
      baseDelayMs: this.retryBaseDelayMs,
      maxDelayMs: this.retryMaxDelayMs,
      ...(signal != null ? { signal } : {}),
      onRetry: (err, attempt, delayMs) => { log('%s failed (%s), retry %d in %d ms', what, err.message, attempt, delayMs) }
    }
  }
}
