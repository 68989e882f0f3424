import { BUNDLE_HEADER_BYTES, bundleEntryBytes, MAX_BUNDLE_RECEIPTS, MIN_BUNDLE_BUDGET, tensorsFit } from './bundle.js'
import { receiptSizes, type QueuedReceipt, type ReceiptSizes } from './receipt-store.js'

/** What Walrus refused: a batch's receipts, its bundle's size, whether it held tensors, and the HTTP status. */
export interface Refusal {
  receipts: QueuedReceipt[]
  bytes: number
  withTensors: boolean
  status: number
}

export const hasTensors = (r: QueuedReceipt): boolean => (r.inputs?.byteLength ?? 0) + (r.outputs?.byteLength ?? 0) > 0

const lastSeqOf = (receipts: QueuedReceipt[]): bigint => receipts.reduce((max, r) => r.seq > max ? r.seq : max, 0n)

/**
 * How large the next bundle may be, and which tensors it keeps. Pure: the
 * batcher reads and writes the store. A bundle fits the byte budget (its
 * entries are counted at their largest encoding); a receipt whose tensors
 * would not fit alone goes without them. What Walrus refuses for good shrinks
 * what follows: a 413 halves the budget for the rest of the run (the
 * publisher's limit is below it); any refusal bisects the refused receipts
 * (half as many per bundle, growing back by doubling after each success)
 * until a bad one is alone, then sends it without tensors, then gives it up.
 */
export class BundleSizing {
  private readonly includeTensors: boolean
  private budget: number
  /** Bundles that start at or below `throughSeq` hold at most `maxReceipts`. */
  private suspect?: { throughSeq: bigint, maxReceipts: number }
  /** Receipts whose one-receipt bundle with tensors was refused. */
  private readonly tensorsRefused = new Set<bigint>()

  constructor (init: { maxBundleBytes: number, includeTensors: boolean }) {
    this.budget = init.maxBundleBytes
    this.includeTensors = init.includeTensors
  }

  /** The byte budget bundles are built to now. */
  get bundleBudget (): number {
    return this.budget
  }

  /** What to pass to the store's take(): a receipt costs its bundle entries, with tensors only when they are kept. */
  takeOptions (): { maxBytes: number, cost: (r: ReceiptSizes) => number } {
    const budget = this.budget
    return { maxBytes: budget - BUNDLE_HEADER_BYTES, cost: r => bundleEntryBytes(r, this.keepsTensors(r, budget)) }
  }

  /** The next batch out of the receipts taken (the oldest first), and the seqs of those whose tensors it leaves out. */
  plan (taken: QueuedReceipt[]): { receipts: QueuedReceipt[], leftOut: Set<bigint> } {
    let receipts = taken
    if (this.suspect != null && taken.length > 0) {
      if ((taken[0] as QueuedReceipt).seq > this.suspect.throughSeq) this.suspect = undefined
      else receipts = taken.slice(0, this.suspect.maxReceipts)
    }
    const leftOut = new Set(receipts.filter(r => this.includeTensors && hasTensors(r) && !this.keepsTensors(receiptSizes(r), this.budget)).map(r => r.seq))
    return { receipts, leftOut }
  }

  /** A bundle was stored: its receipts are done with, and bundles may grow again. */
  stored (receipts: QueuedReceipt[]): void {
    for (const r of receipts) this.tensorsRefused.delete(r.seq)
    if (this.suspect != null) this.suspect.maxReceipts = Math.min(MAX_BUNDLE_RECEIPTS, this.suspect.maxReceipts * 2)
  }

  /** Walrus refused a bundle for good. True when it was one receipt without tensors, which no smaller bundle can help: set it aside. */
  refused (refusal: Refusal): boolean {
    const { receipts, bytes, withTensors, status } = refusal
    if (receipts.length === 1 && !withTensors) {
      this.tensorsRefused.delete((receipts[0] as QueuedReceipt).seq)
      return true
    }
    if (status === 413) this.budget = Math.max(MIN_BUNDLE_BUDGET, Math.min(this.budget, Math.floor(bytes / 2)))
    const lastSeq = lastSeqOf(receipts)
    const throughSeq = this.suspect != null && this.suspect.throughSeq > lastSeq ? this.suspect.throughSeq : lastSeq
    this.suspect = { throughSeq, maxReceipts: Math.ceil(receipts.length / 2) }
    if (receipts.length === 1) this.tensorsRefused.add((receipts[0] as QueuedReceipt).seq)
    return false
  }

  private keepsTensors (r: ReceiptSizes, budget: number): boolean {
    return this.includeTensors && !this.tensorsRefused.has(r.seq) && tensorsFit(r, budget)
  }
}
