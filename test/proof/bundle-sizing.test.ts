import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { encodeBundle } from '../../src/proof/bundle.js'
import { BundleSizing } from '../../src/proof/bundle-sizing.js'
import type { QueuedReceipt } from '../../src/proof/receipt-store.js'

function receipts (n: number, tensorBytes = 60): QueuedReceipt[] {
  return Array.from({ length: n }, (_, i) => ({ id: '', seq: BigInt(i + 1), bytes: new Uint8Array(250).fill(i), inputs: new Uint8Array(tensorBytes * 2 / 3), outputs: new Uint8Array(tensorBytes / 3) }))
}

/** Takes from the queue as the store does: in order, while the costs fit, always one. */
function take (queue: QueuedReceipt[], max: number, options: ReturnType<BundleSizing['takeOptions']>): QueuedReceipt[] {
  const out: QueuedReceipt[] = []
  let bytes = 0
  for (const r of queue) {
    const cost = options.cost({ seq: r.seq, receipt: r.bytes.byteLength, inputs: r.inputs?.byteLength ?? 0, outputs: r.outputs?.byteLength ?? 0 })
    if (out.length > 0 && bytes + cost > options.maxBytes) break
    out.push(r)
    bytes += cost
    if (out.length >= max) break
  }
  return out
}

describe('bundle sizing', () => {
  it('fills a bundle up to its budget and leaves out the tensors of a receipt that would not fit alone', () => {
    const budget = 4096
    const sizing = new BundleSizing({ maxBundleBytes: budget, includeTensors: true })
    const queue = [...receipts(1, 6000), ...receipts(40).map(r => ({ ...r, seq: r.seq + 1n }))]
    const { receipts: batch, leftOut } = sizing.plan(take(queue, 256, sizing.takeOptions()))
    assert.deepEqual([...leftOut], [1n], 'only the oversized tensors are left out')
    assert.ok(batch.length > 1 && batch.length < queue.length, `${batch.length} receipts: the budget, not the batch size, ended it`)
    const bundle = encodeBundle({
      receipts: batch.map(r => r.bytes),
      inputs: batch.map(r => leftOut.has(r.seq) ? new Uint8Array(0) : r.inputs!),
      outputs: batch.map(r => leftOut.has(r.seq) ? new Uint8Array(0) : r.outputs!)
    })
    assert.ok(bundle.byteLength <= budget, `a bundle of ${bundle.byteLength} bytes fits ${budget}`)
  })

  it('halves the budget after a 413 and keeps it', () => {
    const sizing = new BundleSizing({ maxBundleBytes: 8 << 20, includeTensors: true })
    const batch = receipts(4, 3000)
    assert.equal(sizing.refused({ receipts: batch, bytes: 12_200, withTensors: true, status: 413 }), false)
    assert.equal(sizing.bundleBudget, 6_100)
    sizing.stored(batch.slice(0, 2))
    assert.equal(sizing.bundleBudget, 6_100, 'a bundle stored does not raise it again')
    assert.equal(sizing.refused({ receipts: batch.slice(0, 1), bytes: 900, withTensors: true, status: 413 }), false)
    assert.equal(sizing.bundleBudget, 1024, 'never below the smallest budget')
  })

  it('isolates one receipt Walrus refuses within 2 log2 n + 1 refusals wherever it is, and sets it aside last', () => {
    const n = 64
    for (let bad = 1n; bad <= BigInt(n); bad++) {
      const sizing = new BundleSizing({ maxBundleBytes: 8 << 20, includeTensors: true })
      let queue = receipts(n)
      let refusals = 0
      let setAside = false
      for (let step = 0; queue.length > 0; step++) {
        assert.ok(step < 10 * n, 'sealing ends')
        const { receipts: batch, leftOut } = sizing.plan(take(queue, n, sizing.takeOptions()))
        if (!batch.some(r => r.seq === bad)) {
          sizing.stored(batch)
          queue = queue.slice(batch.length)
          continue
        }
        refusals++
        const withTensors = batch.some(r => !leftOut.has(r.seq))
        if (sizing.refused({ receipts: batch, bytes: 1000, withTensors, status: 451 })) {
          assert.deepEqual([batch.length, withTensors], [1, false], 'set aside only alone and without tensors')
          setAside = true
          queue = queue.filter(r => r.seq !== bad)
        }
      }
      assert.ok(setAside)
      assert.ok(refusals <= 2 * Math.log2(n) + 1, `bad receipt ${bad}: ${refusals} refusals`)
    }
  })
})
