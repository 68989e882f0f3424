import type { Signer } from '@mysten/sui/cryptography'
import { Agent, request, type Dispatcher } from 'undici'
import { readBoundedText } from '../walrus/bounded-body.js'
import { isTransportError, withRetries } from '../retry.js'
import { DuplicateAnchorError, DuplicateModelError, InvalidModelRefError, InvalidTransactionError, LedgerCorruptError, LedgerError, NotFoundError, RetryableLedgerError } from './errors.js'
import type { AppendResult, ChainHead, IndexEntry } from './local/chain-store.js'
import type { BlockSource } from './local/verify.js'
import { ServedEntryChecker } from './served-entry.js'
import { signTx } from './signing.js'
import type { AnchorEntry, AnchorInput, AnchorReceipt, Ledger, ModelEntry, ModelInput } from './types.js'
import { validateAnchorInput, validateModelInput, validateModelRef } from './validation.js'

const NAMED_ERRORS: Record<string, new (message: string) => LedgerError> = {
  InvalidTransactionError,
  InvalidModelRefError,
  DuplicateModelError,
  DuplicateAnchorError,
  NotFoundError,
  LedgerCorruptError
}

/** Longer than any root, transaction ID, address or model reference the ledger knows. */
const MAX_SEGMENT_LENGTH = 256

/**
 * One path segment. encodeURIComponent leaves `.` alone and a URL resolves
 * `.` and `..` as it is built, so `getModel('..')` would have asked for
 * `GET /v1/`: they are refused, not encoded.
 */
function segment (value: string, what: string): string {
  if (value === '' || value === '.' || value === '..' || value.length > MAX_SEGMENT_LENGTH) {
    throw new InvalidTransactionError(`${what} ${JSON.stringify(value.slice(0, 80))}${value.length > 80 ? '…' : ''} must be 1-${MAX_SEGMENT_LENGTH} characters and not "." or ".."`)
  }
  return encodeURIComponent(value)
}

/** Far above a page of blocks or a full model list; a ledger that sends more is refused before it fills memory. */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024

export interface HttpLedgerInit {
  url: string
  signer?: Signer
  retries?: number
  timeoutMs?: number
}

/**
 * A client of the devnet's ledger server: signs here, and the server checks the
 * signature. Entries read are checked here against the signed blocks served with them.
 */
export class HttpLedger implements Ledger, BlockSource {
  readonly kind = 'local'
  readonly url: URL
  private readonly signer?: Signer
  private readonly retries: number
  private readonly dispatcher: Dispatcher
  private readonly served = new ServedEntryChecker()

  constructor (init: HttpLedgerInit) {
    try {
      this.url = new URL(init.url)
    } catch {
      throw new LedgerError(`ledger URL is not a URL: ${init.url}`)
    }
    if (this.url.protocol !== 'http:' && this.url.protocol !== 'https:') throw new LedgerError(`ledger URL must be http or https: ${init.url}`)
    if (init.signer != null) this.signer = init.signer
    this.retries = init.retries ?? 3
    const timeout = init.timeoutMs ?? 30_000
    this.dispatcher = new Agent({ headersTimeout: timeout, bodyTimeout: timeout, connectTimeout: timeout })
  }

  get address (): string | undefined {
    return this.signer?.toSuiAddress()
  }

  async registerModel (model: ModelInput, options: { signal?: AbortSignal } = {}): Promise<ModelEntry> {
    const { blobObjectId, ...entry } = validateModelInput(model)
    const result = await this.submit(await signTx(this.requireSigner(), { kind: 'registerModel', model: entry }), options.signal)
    if (result.model == null) throw new LedgerError('ledger answered without the model entry')
    return result.model
  }

  async anchor (anchor: AnchorInput, options: { signal?: AbortSignal } = {}): Promise<AnchorReceipt> {
    const { bundleObjectId, ...entry } = validateAnchorInput(anchor)
    const result = await this.submit(await signTx(this.requireSigner(), { kind: 'anchor', anchor: entry }), options.signal)
    return { ledger: this.kind, txId: result.txId, height: result.height, time: result.time, address: result.sender }
  }

  async getModel (ref: string, options: { signal?: AbortSignal } = {}): Promise<ModelEntry> {
    return this.served.model(ref, await this.call<unknown>('GET', `v1/models/${segment(validateModelRef(ref), 'model reference')}`, undefined, options.signal))
  }

  async listModels (options: { signal?: AbortSignal } = {}): Promise<ModelEntry[]> {
    return this.served.models(await this.call<unknown>('GET', 'v1/models', undefined, options.signal))
  }

  async getAnchor (rootOrTxId: string, options: { signal?: AbortSignal } = {}): Promise<AnchorEntry> {
    return this.served.anchor(rootOrTxId, await this.call<unknown>('GET', `v1/anchors/${segment(rootOrTxId, 'anchor root or transaction ID')}`, undefined, options.signal))
  }

  async listAnchors (address: string, options: { signal?: AbortSignal } = {}): Promise<AnchorEntry[]> {
    return this.served.anchors(address, await this.call<unknown>('GET', `v1/addresses/${segment(address, 'address')}/anchors`, undefined, options.signal))
  }

  async head (): Promise<ChainHead | undefined> {
    return (await this.call<{ head: ChainHead | null }>('GET', 'v1/head')).head ?? undefined
  }

  async blocks (from: number, limit: number): Promise<Array<{ height: number, bytes: Uint8Array }>> {
    const { blocks } = await this.call<{ blocks: Array<{ height: number, bytes: string }> }>('GET', `v1/blocks?from=${from}&limit=${limit}`)
    return blocks.map(b => ({ height: b.height, bytes: new Uint8Array(Buffer.from(b.bytes, 'base64')) }))
  }

  async indexEntries (after: string | undefined, limit: number): Promise<IndexEntry[]> {
    const query = new URLSearchParams({ limit: String(limit), ...(after != null ? { after } : {}) })
    const { entries } = await this.call<{ entries: unknown }>('GET', `v1/index?${query}`)
    if (!Array.isArray(entries) || entries.length > limit || !entries.every(e => typeof e?.key === 'string' && typeof e?.value === 'string')) {
      throw new LedgerCorruptError(`the ledger's index page is not a list of at most ${limit} { key, value } strings`)
    }
    return entries as IndexEntry[]
  }

  async close (): Promise<void> {
    await this.dispatcher.close()
  }

  private async submit (txBytes: Uint8Array, signal?: AbortSignal): Promise<AppendResult> {
    return this.call<AppendResult>('POST', 'v1/transactions', txBytes, signal)
  }

  private async call<T> (method: 'GET' | 'POST', path: string, body?: Uint8Array, signal?: AbortSignal): Promise<T> {
    const url = new URL(path, this.url.href.endsWith('/') ? this.url : `${this.url.href}/`)
    return withRetries(async () => {
      let response: Dispatcher.ResponseData
      try {
        response = await request(url, {
          method,
          dispatcher: this.dispatcher,
          ...(body != null ? { body, headers: { 'content-type': 'application/octet-stream' } } : {}),
          ...(signal != null ? { signal } : {})
        })
      } catch (err) {
        if (signal?.aborted === true) throw err
        if (isTransportError(err)) {
          throw new RetryableLedgerError(`the ledger at ${url.origin} is unreachable (${method} ${url.pathname}): ${(err as Error).message}`, { cause: err })
        }
        throw err
      }
      const text = await readBoundedText(response.body, MAX_RESPONSE_BYTES, () => new LedgerError(`${method} ${url.pathname}: the ledger's answer is over ${MAX_RESPONSE_BYTES} bytes`))
      let json: any
      try {
        json = JSON.parse(text)
      } catch {
        json = undefined
      }
      const message = json?.error?.message ?? text.slice(0, 300)
      // A damaged store is not cured by asking again.
      if (json?.error?.name === 'LedgerCorruptError') throw new LedgerCorruptError(message)
      // Before the body's shape: a proxy in front of a ledger that is down answers 502 in HTML.
      if (response.statusCode >= 500 || response.statusCode === 429) throw new RetryableLedgerError(`the ledger at ${url.origin} failed (${method} ${url.pathname}): ${response.statusCode} ${message}`)
      if (json === undefined) throw new LedgerError(`${method} ${url.pathname}: ${response.statusCode} with a body that is not JSON`)
      if (response.statusCode === 200) return json as T
      const Named = NAMED_ERRORS[json?.error?.name]
      if (Named != null) throw new Named(message)
      throw new LedgerError(`${method} ${url.pathname}: ${response.statusCode} ${message}`)
    }, { retries: this.retries, baseDelayMs: 200, maxDelayMs: 3000, isRetryable: err => err instanceof RetryableLedgerError, ...(signal != null ? { signal } : {}) })
  }

  private requireSigner (): Signer {
    if (this.signer == null) throw new LedgerError('this ledger client is read-only: writes need the node key')
    return this.signer
  }
}
