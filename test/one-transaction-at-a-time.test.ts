import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import type { SuiGrpcClient } from '@mysten/sui/grpc'
import type { Transaction } from '@mysten/sui/transactions'
import { executeTransaction } from '../src/chain/sui/execute.js'
import { oneTransactionAtATime } from '../src/one-transaction-at-a-time.js'
import { PayingSigner } from '../src/walrus/paying-signer.js'

/** Runs `n` calls for `address` at once, each holding its turn a few ms; returns the most under way together and the order they ran in. */
async function race (address: string, n: number): Promise<{ most: number, order: number[] }> {
  let running = 0
  let most = 0
  const order: number[] = []
  await Promise.all(Array.from({ length: n }, async (_, i) => oneTransactionAtATime(address, async () => {
    most = Math.max(most, ++running)
    order.push(i)
    await sleep(5 + (i % 3) * 5)
    running--
  })))
  return { most, order }
}

/** A transaction whose build is recorded: what the node key's signers call first. */
function recordedTransaction (log: string[], name: string): Transaction {
  return {
    setSender: () => {},
    setSenderIfNotSet: () => {},
    build: async () => { log.push(`${name} built`); return new Uint8Array([1, 2, 3]) }
  } as unknown as Transaction
}

describe('one transaction of the node key at a time', () => {
  it('runs one address\'s transactions one after another, in the order asked, and other addresses\' beside them', async () => {
    const one = await race('0xa', 6)
    assert.equal(one.most, 1)
    assert.deepEqual(one.order, [0, 1, 2, 3, 4, 5])
    let running = 0
    let most = 0
    await Promise.all(['0xb', '0xc'].map(async address => oneTransactionAtATime(address, async () => {
      most = Math.max(most, ++running)
      await sleep(20)
      running--
    })))
    assert.equal(most, 2, 'two keys do not wait for each other')
  })

  it('lets the next go after a failure, and gives up a wait at once when its signal aborts, without letting later ones jump the running one', async () => {
    await assert.rejects(oneTransactionAtATime('0xd', async () => { throw new Error('rejected by the node') }), /rejected by the node/)
    assert.equal(await oneTransactionAtATime('0xd', async () => 'next'), 'next')

    const held = Promise.withResolvers<void>()
    const log: string[] = []
    const first = oneTransactionAtATime('0xe', async () => { log.push('first'); await held.promise })
    const controller = new AbortController()
    const aborted = oneTransactionAtATime('0xe', async () => { log.push('aborted one ran') }, controller.signal)
    const third = oneTransactionAtATime('0xe', async () => { log.push('third') })
    controller.abort(new Error('node stopping'))
    await assert.rejects(aborted, /node stopping/)
    await sleep(20)
    assert.deepEqual(log, ['first'], 'the third waits for the first, which still runs')
    held.resolve()
    await Promise.all([first, third])
    assert.deepEqual(log, ['first', 'third'])
  })

  it('holds the ledger\'s transactions and the Walrus SDK\'s to the same turn for one key', async () => {
    const key = Ed25519Keypair.generate()
    const address = key.toSuiAddress()
    const log: string[] = []
    const client = {
      executeTransaction: async () => ({ $kind: 'Transaction', Transaction: { digest: 'D1' } }),
      waitForTransaction: async () => ({ Transaction: { checkpoint: 7n, timestampMs: 1 } }),
      core: {
        executeTransaction: async () => ({ $kind: 'Transaction', Transaction: { digest: 'D2', balanceChanges: [] } }),
        waitForTransaction: async () => { log.push('sdk write final'); return {} }
      }
    } as unknown as SuiGrpcClient
    const held = Promise.withResolvers<void>()
    const running = oneTransactionAtATime(address, async () => { log.push('renewal running'); await held.promise; log.push('renewal done') })
    const anchor = executeTransaction(client, key, () => recordedTransaction(log, 'anchor'), { network: 'testnet' })
    const write = new PayingSigner(key, 'blob-write').signAndExecuteTransaction({ transaction: recordedTransaction(log, 'sdk write'), client })
    await sleep(30)
    assert.deepEqual(log, ['renewal running'], 'neither is built while another transaction of the key is under way')
    held.resolve()
    await Promise.all([running, anchor, write])
    assert.deepEqual(log, ['renewal running', 'renewal done', 'anchor built', 'sdk write built', 'sdk write final'])
  })
})
