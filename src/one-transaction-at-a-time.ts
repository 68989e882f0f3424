import { raceSignal } from 'race-signal'
import { KeyedQueue } from './blob/cache/tasks.js'

/**
 * Sui locks an owned object until the end of the epoch (about a day on
 * testnet and mainnet) when two transactions signed before either is final
 * use it at the same version: equivocation. Every transaction of the node
 * key (anchors and registry entries on the ledger, Walrus writes and
 * extensions through the SDK) pays its gas from the key's coins, chosen when
 * the transaction is built; so each is built, signed, executed and waited for
 * alone, one key at a time, whichever part of the node sends it. Another
 * process signing with the same key at the same time is not covered: run one
 * node per key (docs/networks.md).
 */
const transactions = new KeyedQueue()

/** Runs `fn` once every transaction of `address` asked for before it has ended; an abort while waiting rejects at once with the signal's reason. */
export async function oneTransactionAtATime<T> (address: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  // An aborted caller's turn still comes, and passes at once: the ones after it keep waiting for the one before.
  const turn = transactions.run(address, async () => {
    signal?.throwIfAborted()
    return fn()
  })
  return signal == null ? turn : raceSignal(turn, signal)
}
