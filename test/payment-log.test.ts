import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Level } from 'level'
import { PaymentLog } from '../src/payment-log.js'
import type { Payment } from '../src/payments.js'
import { tempDir } from './helpers/devnet.js'

const digest = (n: number): string => `${'A'.repeat(40)}${String(n).padStart(3, '1')}`.replace(/0/g, '9')
const payment = (n: number, suiMist: bigint, walFrost = 0n): Payment => ({ kind: 'anchor', digest: digest(n), suiMist, walFrost })

describe('payment log', () => {
  it('keeps totals per network across reopening, counts a transaction once, and is shared by two processes\' logs', async () => {
    await using dir = await tempDir()
    const path = join(dir.path, 'payments')
    const node = new PaymentLog(path)
    assert.deepEqual(await node.totals(), {}, 'nothing paid yet')
    await node.record('testnet', payment(1, 1_500_000n, 320_000n), { at: 1000 })
    await node.record('testnet', payment(2, 1_000_000n), { at: 2000 })
    await node.record('testnet', payment(2, 1_000_000n), { at: 3000 })
    await node.record('mainnet', payment(1, 7n, 9n), { at: 4000 })

    // A push beside the node: its own log object over the same store, queued from a synchronous callback.
    const push = new PaymentLog(path)
    push.add('testnet', { ...payment(3, 2_000_000n, 10n), kind: 'blob-write' })
    await push.flush()
    assert.deepEqual(await new PaymentLog(path).totals(), {
      testnet: { suiMist: 4_500_000n, walFrost: 320_010n, transactions: 3, since: 1000, last: (await node.totals()).testnet!.last },
      mainnet: { suiMist: 7n, walFrost: 9n, transactions: 1, since: 4000, last: 4000 }
    })

    // While another holds the store, a write waits for it rather than failing.
    const holder = new Level(path)
    await holder.open()
    const waiting = node.record('testnet', payment(4, 1n))
    await new Promise(resolve => setTimeout(resolve, 100))
    await holder.close()
    assert.equal((await waiting).transactions, 4)
  })

  it('refuses a bad payment or a store that is not a payment log by name, and never fails the write that told it', async () => {
    await using dir = await tempDir()
    const log = new PaymentLog(join(dir.path, 'payments'), { lockWaitMs: 200 })
    await assert.rejects(log.record('Test Net', payment(1, 1n)), { name: 'PaymentLogError' })
    await assert.rejects(log.record('testnet', { ...payment(1, 1n), digest: 'not a digest' }), { name: 'PaymentLogError' })
    assert.doesNotThrow(() => log.add('testnet', { ...payment(1, 1n), digest: '0x' }), 'told from inside a paid write: logged, not thrown')
    await log.flush()
    assert.deepEqual(await log.totals(), {})

    const other = new Level(join(dir.path, 'other'))
    await other.put('something', 'else')
    await other.close()
    await assert.rejects(new PaymentLog(join(dir.path, 'other')).totals(), { name: 'PaymentLogError', message: /holds data \(first key something\) but no version: not a herd payment log/ })
    const newer = new Level(join(dir.path, 'newer'))
    await newer.put('version', '2')
    await newer.close()
    await assert.rejects(new PaymentLog(join(dir.path, 'newer')).totals(), { name: 'PaymentLogError', message: /payment log version 2, this herd reads version 1/ })

    const held = new Level(join(dir.path, 'payments'))
    await held.open()
    try {
      await assert.rejects(log.totals(), { name: 'PaymentLogError' }, 'held past the wait')
    } finally {
      await held.close()
    }
  })
})
