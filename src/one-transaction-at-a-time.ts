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
const tails = new Map<string, Promise<void>>()

/** Runs `fn` once every transaction of `address` asked for before it has ended; an abort while waiting rejects at once with the signal's reason. */
export async function oneTransactionAtATime<T> (address: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  const previous = tails.get(address) ?? Promise.resolve()
  const done = Promise.withResolvers<void>()
  const tail = previous.then(async () => done.promise)
  tails.set(address, tail)
  void tail.then(() => { if (tails.get(address) === tail) tails.delete(address) })
  try {
    await untilOrAborted(previous, signal)
    return await fn()
  } finally {
    done.resolve()
  }
}

async function untilOrAborted (turn: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (signal == null) return turn
  signal.throwIfAborted()
  const aborted = Promise.withResolvers<never>()
  const onAbort = (): void => { aborted.reject(signal.reason) }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    await Promise.race([turn, aborted.promise])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
