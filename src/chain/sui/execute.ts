import { setTimeout as sleep } from 'node:timers/promises'
import { logger } from '@libp2p/logger'
import type { Signer } from '@mysten/sui/cryptography'
import { SimulationError } from '@mysten/sui/client'
import { RpcError, type SuiGrpcClient } from '@mysten/sui/grpc'
import type { Transaction } from '@mysten/sui/transactions'
import { InsufficientGasError, LedgerError, ObjectVersionConflictError, RetryableLedgerError, TransactionRejectedError } from '../errors.js'
import { oneTransactionAtATime } from '../../one-transaction-at-a-time.js'
import { paymentOf, type OnPaid, type PaymentKind } from '../../payments.js'
import { RetryableError } from '../../retry.js'

const log = logger('herd:chain:sui:execute')

export const DEFAULT_CONFLICT_RETRIES = 4
export const DEFAULT_CONFLICT_BACKOFF_MS = 500
const MAX_BACKOFF_MS = 8_000
/** Sui's own wait: checkpoints come every fraction of a second; a minute means the node is far behind or the transaction is lost. */
const WAIT_TIMEOUT_MS = 60_000

export interface ExecuteOptions {
  network: string
  signal?: AbortSignal
  /** Tries after the first when an object the transaction uses changed under it. */
  conflictRetries?: number
  conflictBackoffMs?: number
  /** Told what each executed transaction cost, a failed one too: Sui charges its gas. */
  onPaid?: OnPaid
  kind?: PaymentKind
}

export interface Executed { digest: string, checkpoint: number, time: number }

/** What the gas selection of SimulateTransaction says when the sender has too little SUI (sui-rpc-api `select_gas`). */
const NO_GAS = /insufficient SUI balance|insufficient[ _]?gas|Insufficient balance of 0x0*2::sui::SUI|no gas coins?/i
/** An owned object's version moved on, or another transaction holds its lock (Sui `ObjectVersionUnavailableForConsumption`, `ObjectLockConflict`). */
const CONFLICT = /not available for consumption|ObjectVersionUnavailableForConsumption|ObjectLockConflict|objects? (?:is |are )?(?:already )?locked|equivocat|reserved for another transaction/i
/** Transport failures worth another try: the transaction may not have reached the node. */
const RETRYABLE_CODES = new Set(['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED', 'INTERNAL', 'UNKNOWN', 'ABORTED'])

/**
 * Builds, simulates, signs, executes and waits for one transaction, as the
 * signer's only transaction under way in the process (oneTransactionAtATime). Building
 * resolves it through the node's SimulateTransaction, which selects the gas
 * coins and refuses a transaction that would fail, so nothing is signed or
 * paid for a transaction that cannot pass. An object version conflict is
 * retried from a fresh build (the objects are read again), with backoff that
 * sleeps on the signal.
 */
export async function executeTransaction (client: SuiGrpcClient, signer: Signer, build: () => Transaction, options: ExecuteOptions): Promise<Executed> {
  const retries = options.conflictRetries ?? DEFAULT_CONFLICT_RETRIES
  const base = options.conflictBackoffMs ?? DEFAULT_CONFLICT_BACKOFF_MS
  const address = signer.toSuiAddress()
  for (let attempt = 0; ; attempt++) {
    options.signal?.throwIfAborted()
    try {
      return await oneTransactionAtATime(address, async () => executeOnce(client, signer, build, address, options), options.signal)
    } catch (err) {
      if (!(err instanceof ConflictSignal)) throw err
      if (attempt >= retries) throw new ObjectVersionConflictError(`an object of the transaction kept changing under it after ${attempt + 1} tries: ${err.message}`, attempt + 1, { cause: err.cause })
      const delayMs = Math.min(MAX_BACKOFF_MS, base * 2 ** attempt)
      log('object version conflict (try %d of %d), again in %d ms: %s', attempt + 1, retries + 1, delayMs, err.message)
      try {
        await sleep(delayMs, undefined, options.signal != null ? { signal: options.signal } : {})
      } catch (sleepErr) {
        throw options.signal?.aborted === true ? options.signal.reason : sleepErr
      }
    }
  }
}

class ConflictSignal extends Error {
  override name = 'ConflictSignal'
}

async function executeOnce (client: SuiGrpcClient, signer: Signer, build: () => Transaction, address: string, options: ExecuteOptions): Promise<Executed> {
  const signal = options.signal
  const transaction = build()
  transaction.setSender(address)
  let bytes: Uint8Array
  try {
    bytes = await transaction.build({ client })
  } catch (err) {
    throw classify(err, 'simulating', address, options)
  }
  signal?.throwIfAborted()
  const { signature } = await signer.signTransaction(bytes)
  let result: Awaited<ReturnType<SuiGrpcClient['executeTransaction']>>
  try {
    result = await client.executeTransaction({ transaction: bytes, signatures: [signature], include: { effects: true }, ...(signal != null ? { signal } : {}) })
  } catch (err) {
    throw classify(err, 'executing', address, options)
  }
  const executed = result.Transaction ?? result.FailedTransaction
  if (options.onPaid != null && options.kind != null) options.onPaid(paymentOf(executed, address, options.kind))
  if (result.$kind === 'FailedTransaction') {
    const failed = result.FailedTransaction
    const reason = failed.status.error?.message ?? 'execution failed'
    if (NO_GAS.test(reason)) throw new InsufficientGasError(address, options.network, reason)
    throw new TransactionRejectedError(reason, { digest: failed.digest })
  }
  const digest = result.Transaction.digest
  let done: Awaited<ReturnType<SuiGrpcClient['waitForTransaction']>>
  try {
    done = await client.waitForTransaction({ digest, timeout: WAIT_TIMEOUT_MS, ...(signal != null ? { signal } : {}) })
  } catch (err) {
    if (signal?.aborted === true) throw signal.reason
    throw new RetryableLedgerError(`Sui: transaction ${digest} was executed but not seen in a checkpoint yet: ${(err as Error).message}`, { cause: err })
  }
  const seen = done.Transaction ?? done.FailedTransaction
  return { digest, checkpoint: Number(seen?.checkpoint ?? 0), time: seen?.timestampMs ?? Date.now() }
}

/** Turns what the SDK or the node threw into herd's named errors. */
function classify (err: unknown, what: string, address: string, options: ExecuteOptions): unknown {
  if (options.signal?.aborted === true) return options.signal.reason
  if (err instanceof LedgerError || err instanceof RetryableError || (err as Error)?.name === 'AbortError') return err
  const message = (err as Error)?.message ?? String(err)
  const executionKind = (err as { executionError?: { $kind?: string } }).executionError?.$kind
  if (NO_GAS.test(message) || executionKind === 'InsufficientGas') return new InsufficientGasError(address, options.network, message.slice(0, 300), { cause: err })
  if (CONFLICT.test(message)) return new ConflictSignal(message.slice(0, 500), { cause: err })
  const rpc = err instanceof RpcError ? err : (err as Error)?.cause instanceof RpcError ? (err as Error).cause as RpcError : undefined
  if (rpc != null && RETRYABLE_CODES.has(rpc.code)) return new RetryableLedgerError(`Sui: ${what} the transaction: ${message.slice(0, 500)}`, { cause: err })
  // The node answered and said no (an expired transaction, a bad input, a Move abort in the simulation): trying again will not help.
  if (rpc != null || err instanceof SimulationError) return new TransactionRejectedError(message.slice(0, 500), { cause: err })
  return new RetryableLedgerError(`Sui: ${what} the transaction: ${message.slice(0, 500)}`, { cause: err })
}
