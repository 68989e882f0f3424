import { logger } from '@libp2p/logger'
import { isWantOfFunds } from './funds-errors.js'
import type { Balances } from './node-services.js'
import type { PaidTotals } from './payment-log.js'
import type { BlockedWrite } from './proof/batcher.js'

const log = logger('herd:node-funds')


/** Balances are read again at most this often while a write waits for funds, so /status shows funds arriving. */
export const DEFAULT_BALANCE_REFRESH_MS = 60_000
/** A balance read that takes longer is given up; the last one stays. */
const BALANCE_READ_MS = 15_000

export interface FundsStatus {
  address: string
  /** MIST, as a decimal string; absent on the devnet and before the first read. */
  sui?: string
  /** FROST, as a decimal string. */
  wal?: string
  checkedAt?: number
  /** What the node key has paid on this network so far (its payment log): MIST and FROST as decimal strings. */
  paid?: { sui: string, wal: string, transactions: number }
  blocked: BlockedWrite[]
}

export interface FundsMonitorInit {
  address: string
  network: string
  /** Absent on the devnet, which has no balances. */
  balances?: (options: { signal: AbortSignal }) => Promise<Balances>
  /** The writes waiting for funds now. */
  blocked: () => BlockedWrite[]
  /** What the payment log holds for this network, read at start; `paidChanged` tells later totals. */
  paid?: (options: { signal: AbortSignal }) => Promise<PaidTotals>
  refreshMs?: number
}

/**
 * What the node holds and what waits for it to pay: a node without funds
 * keeps serving, and its anchors and bundles wait in the batcher's durable
 * queue. Says once per episode, in the log, which address to fund.
 */
export class FundsMonitor {
  private readonly init: FundsMonitorInit
  private readonly refreshMs: number
  private last?: { balances: Balances, at: number }
  private paidTotals?: PaidTotals
  private readingPaid?: Promise<void>
  private reading?: Promise<void>
  private triedAt = -Infinity
  private readonly controller = new AbortController()
  private told = false

  constructor (init: FundsMonitorInit) {
    this.init = init
    this.refreshMs = init.refreshMs ?? DEFAULT_BALANCE_REFRESH_MS
  }

  /** Reads the balances and the totals paid once in the background. */
  start (): void {
    this.refresh()
    const read = this.init.paid
    if (read == null) return
    const signal = AbortSignal.any([this.controller.signal, AbortSignal.timeout(BALANCE_READ_MS)])
    this.readingPaid = read({ signal })
      // A payment told while the log was being read is newer than what the read found.
      .then(totals => { this.paidTotals ??= totals })
      .catch(err => { if (!this.controller.signal.aborted) log.error('reading what the node has paid failed - %e', err) })
  }

  async stop (): Promise<void> {
    this.controller.abort()
    await Promise.all([this.reading, this.readingPaid])
  }

  /** The payment log's totals for this network after a payment was recorded. */
  paidChanged (totals: PaidTotals): void {
    this.paidTotals = totals
  }

  static isWantOfFunds (err: Error): boolean {
    return isWantOfFunds(err)
  }

  /** Called with each failed write: a want of funds is logged once, with the address to fund; true when this call told it. */
  failed (err: Error): boolean {
    if (!isWantOfFunds(err)) return false
    const tell = !this.told
    if (tell) {
      this.told = true
      const what = err.name === 'InsufficientWalError' ? 'WAL for storage' : 'SUI for gas'
      log.error('the node has no %s on %s: anchors and proof bundles wait in the queue until address %s is funded - %s', what, this.init.network, this.init.address, err.message)
    }
    this.refresh()
    return tell
  }

  /** Called when a write went out: the next want of funds is told again. */
  paid (): void {
    this.told = false
  }

  status (): FundsStatus {
    const blocked = this.init.blocked()
    if (blocked.length > 0) this.refresh()
    const last = this.last
    const paid = this.paidTotals
    return {
      address: this.init.address,
      ...(last != null ? { sui: last.balances.sui.toString(), wal: last.balances.wal.toString(), checkedAt: last.at } : {}),
      ...(paid != null ? { paid: { sui: paid.suiMist.toString(), wal: paid.walFrost.toString(), transactions: paid.transactions } } : {}),
      blocked
    }
  }

  private refresh (): void {
    const read = this.init.balances
    if (read == null || this.reading != null || this.controller.signal.aborted) return
    // A failed read waits a period too: a node without a reachable full node is not made to hammer it.
    if (Date.now() - this.triedAt < this.refreshMs) return
    this.triedAt = Date.now()
    const signal = AbortSignal.any([this.controller.signal, AbortSignal.timeout(BALANCE_READ_MS)])
    this.reading = read({ signal })
      .then(balances => { this.last = { balances, at: Date.now() } })
      .catch(err => { if (!this.controller.signal.aborted) log('reading the balances of %s failed - %e', this.init.address, err) })
      .finally(() => { this.reading = undefined })
  }
}
