import { logger } from '@libp2p/logger'
import { Level } from 'level'
import { z } from 'zod'
import { checkStoreVersion } from './blob/level-store.js'
import type { Payment } from './payments.js'
import { sleepOn } from './retry.js'

const log = logger('herd:payment-log')

const VERSION_KEY = 'version'
const LOG_VERSION = 1
/** `tx/NETWORK/DIGEST`: one transaction's payment. */
const TX_PREFIX = 'tx/'
/** `total/NETWORK`: the running totals, written in the same batch as each payment. */
const TOTAL_PREFIX = 'total/'
/** Another herd process (a node, a push, a wallet read) holds the store for milliseconds at a time; past this it is stuck. */
export const DEFAULT_LOCK_WAIT_MS = 30_000
const LOCK_RETRY_MS = 25
const MAX_LOCK_RETRY_MS = 500
/** Payments waiting to be written when the store cannot be: past this the oldest are only logged, so a broken disk cannot grow memory. */
const MAX_PENDING = 1000

const NETWORK = /^[a-z][a-z0-9-]{0,31}$/
const DIGEST = /^[1-9A-HJ-NP-Za-km-z]{32,44}$/
const amount = z.string().regex(/^-?\d{1,30}$/)
const paymentRecord = z.strictObject({ kind: z.enum(['registry', 'anchor', 'blob-write', 'blob-extend']), suiMist: amount, walFrost: amount, at: z.number().int().nonnegative() })
const totalsRecord = z.strictObject({ suiMist: amount, walFrost: amount, transactions: z.number().int().nonnegative(), since: z.number().int().nonnegative(), last: z.number().int().nonnegative() })

/** The payment log is not one, is of another version, or cannot be opened or written. */
export class PaymentLogError extends Error {
  override name = 'PaymentLogError'
}

/** What the node has paid on one network: SUI in MIST, WAL in FROST, over `transactions` transactions from `since` to `last` (ms). */
export interface PaidTotals {
  suiMist: bigint
  walFrost: bigint
  transactions: number
  since?: number
  last?: number
}

export const NO_PAYMENTS: PaidTotals = Object.freeze({ suiMist: 0n, walFrost: 0n, transactions: 0 })

type Db = Level<string, string>

/**
 * What the node's key has paid, per network, in level under the data dir:
 * one record per transaction, by digest (a payment told twice counts once),
 * and running totals, written in one synced batch. The store is opened for
 * each write or read and closed at once, because the node, a `herd model
 * push` beside it and `herd wallet` all use it while each other runs.
 * `add` queues a payment from a synchronous callback; `flush` waits for
 * what is queued.
 */
export class PaymentLog {
  readonly path: string
  private readonly lockWaitMs: number
  private readonly pending: Array<{ network: string, payment: Payment, at: number }> = []
  private writing: Promise<void> = Promise.resolve()

  private readonly onWritten?: (network: string, totals: PaidTotals) => void

  constructor (path: string, init: { lockWaitMs?: number, onWritten?: (network: string, totals: PaidTotals) => void } = {}) {
    this.path = path
    this.lockWaitMs = init.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS
    if (init.onWritten != null) this.onWritten = init.onWritten
  }

  /** Queues a payment; it is written in order with the ones before it. A failed write is logged and kept for the next. */
  add (network: string, payment: Payment): void {
    try {
      checkPayment(network, payment)
    } catch (err) {
      // Told from inside a write that went through: a bad report must not fail it.
      log.error('payment not recorded - %e', err)
      return
    }
    this.pending.push({ network, payment, at: Date.now() })
    if (this.pending.length > MAX_PENDING) {
      const lost = this.pending.shift()!
      log.error('payment log %s is not writable: payment %s of %s MIST and %s FROST on %s is not recorded', this.path, lost.payment.digest, lost.payment.suiMist, lost.payment.walFrost, lost.network)
    }
    this.writing = this.writing.then(async () => this.writePending()).catch(err => {
      log.error('recording payments in %s failed; they are kept and written with the next - %e', this.path, err)
    })
  }

  /** Waits until every payment queued so far is written (or its write has failed and been logged). */
  async flush (): Promise<void> {
    await this.writing
  }

  /** Records one payment now, unless its transaction is recorded already; the network's totals after it. */
  async record (network: string, payment: Payment, options: { at?: number, signal?: AbortSignal } = {}): Promise<PaidTotals> {
    checkPayment(network, payment)
    return this.withDb(async db => this.put(db, network, payment, options.at ?? Date.now()), options.signal)
  }

  /** Every network's totals, from the store. */
  async totals (options: { signal?: AbortSignal } = {}): Promise<Record<string, PaidTotals>> {
    return this.withDb(async db => {
      const out: Record<string, PaidTotals> = {}
      for await (const [key, value] of db.iterator({ gte: TOTAL_PREFIX, lt: `${TOTAL_PREFIX}\xff` })) {
        out[key.slice(TOTAL_PREFIX.length)] = this.parseTotals(key, value)
      }
      return out
    }, options.signal)
  }

  private async writePending (): Promise<void> {
    if (this.pending.length === 0) return
    await this.withDb(async db => {
      while (this.pending.length > 0) {
        const next = this.pending[0]!
        const totals = await this.put(db, next.network, next.payment, next.at)
        this.pending.shift()
        this.onWritten?.(next.network, totals)
      }
    })
  }

  private async put (db: Db, network: string, payment: Payment, at: number): Promise<PaidTotals> {
    const totalKey = TOTAL_PREFIX + network
    const stored = await db.get(totalKey)
    const before = stored != null ? this.parseTotals(totalKey, stored) : NO_PAYMENTS
    const txKey = `${TX_PREFIX}${network}/${payment.digest}`
    if (await db.get(txKey) != null) return before
    const after: PaidTotals = {
      suiMist: before.suiMist + payment.suiMist,
      walFrost: before.walFrost + payment.walFrost,
      transactions: before.transactions + 1,
      since: before.since ?? at,
      last: at
    }
    await db.batch([
      { type: 'put', key: txKey, value: JSON.stringify({ kind: payment.kind, suiMist: payment.suiMist.toString(), walFrost: payment.walFrost.toString(), at }) },
      { type: 'put', key: totalKey, value: JSON.stringify({ suiMist: after.suiMist.toString(), walFrost: after.walFrost.toString(), transactions: after.transactions, since: after.since, last: at }) }
    ], { sync: true })
    log('paid %s MIST and %s FROST on %s for %s %s', payment.suiMist, payment.walFrost, network, payment.kind, payment.digest)
    return after
  }

  private parseTotals (key: string, value: string): PaidTotals {
    let parsed
    try {
      parsed = totalsRecord.parse(JSON.parse(value))
    } catch (err) {
      throw new PaymentLogError(`${this.path}: record ${key.slice(0, 80)} is not a payment total: ${(err as Error).message.slice(0, 200)}`)
    }
    return { suiMist: BigInt(parsed.suiMist), walFrost: BigInt(parsed.walFrost), transactions: parsed.transactions, since: parsed.since, last: parsed.last }
  }

  /** Opens the store (waiting while another process holds it), checks its version, runs `fn`, closes it. */
  private async withDb<T> (fn: (db: Db) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const db = await this.open(signal)
    try {
      await checkStoreVersion(db, { what: 'payment log', path: this.path, key: VERSION_KEY, version: LOG_VERSION }, message => new PaymentLogError(message))
      return await fn(db)
    } finally {
      await db.close()
    }
  }

  private async open (signal?: AbortSignal): Promise<Db> {
    const deadline = Date.now() + this.lockWaitMs
    for (let wait = LOCK_RETRY_MS; ; wait = Math.min(MAX_LOCK_RETRY_MS, wait * 2)) {
      signal?.throwIfAborted()
      const db: Db = new Level<string, string>(this.path, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
      try {
        await db.open()
        return db
      } catch (err) {
        const cause = (err as { cause?: { code?: string, message?: string } }).cause
        if (cause?.code !== 'LEVEL_LOCKED') throw new PaymentLogError(`cannot open payment log ${this.path}: ${cause?.message ?? (err as Error).message}`)
        if (Date.now() + wait > deadline) throw new PaymentLogError(`payment log ${this.path} has been in use by another process for ${this.lockWaitMs} ms`)
      }
      await sleepOn(wait, signal)
    }
  }
}

function checkPayment (network: string, payment: Payment): void {
  if (!NETWORK.test(network)) throw new PaymentLogError(`"${network.slice(0, 40)}" is not a network name`)
  if (!DIGEST.test(payment.digest)) throw new PaymentLogError(`"${payment.digest.slice(0, 60)}" is not a Sui transaction digest`)
  const checked = paymentRecord.safeParse({ kind: payment.kind, suiMist: String(payment.suiMist), walFrost: String(payment.walFrost), at: 0 })
  if (!checked.success) throw new PaymentLogError(`payment ${payment.digest}: ${checked.error.issues.map(i => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
}
