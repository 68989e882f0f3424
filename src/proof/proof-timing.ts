/**
 * Durations the proof layer measures, for whoever keeps metrics: one synced
 * append of receipts to the queue, and one bundle from its first write to its
 * anchor (retries and backoffs included: that is how long receipts wait).
 */
export interface ProofTiming {
  kind: 'receipt-append' | 'seal'
  seconds: number
}
