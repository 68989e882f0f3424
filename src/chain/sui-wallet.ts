import type { SuiGrpcClient } from '@mysten/sui/grpc'
import { isValidStructTag, isValidSuiAddress, normalizeStructTag, normalizeSuiAddress, SUI_TYPE_ARG } from '@mysten/sui/utils'
import { InvalidTransactionError, LedgerError, RetryableLedgerError } from './errors.js'
import { RetryableError } from '../retry.js'

/** SUI and WAL held by an address, in MIST and FROST (10^9 to the coin each). */
export interface SuiBalances { sui: bigint, wal: bigint }

function checkAddress (address: string): string {
  const normalized = normalizeSuiAddress(address)
  if (!isValidSuiAddress(normalized)) throw new InvalidTransactionError(`"${address.slice(0, 80)}" is not a Sui address`)
  return normalized
}

async function remote<T> (what: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (signal?.aborted === true) throw signal.reason
    if (err instanceof LedgerError || err instanceof RetryableError) throw err
    throw new RetryableLedgerError(`Sui: ${what}: ${(err as Error).message}`, { cause: err })
  }
}

/** The SUI and WAL balances of `address` (coins and address balance together), two GetBalance calls. */
export async function suiBalances (client: SuiGrpcClient, address: string, walCoinType: string, options: { signal?: AbortSignal } = {}): Promise<SuiBalances> {
  const owner = checkAddress(address)
  if (!isValidStructTag(walCoinType)) throw new InvalidTransactionError(`"${walCoinType.slice(0, 200)}" is not a Move coin type`)
  const signal = options.signal
  const read = async (coinType: string): Promise<bigint> => remote(`reading the ${coinType} balance of ${owner}`, signal, async () => {
    const { balance } = await client.getBalance({ owner, coinType, ...(signal != null ? { signal } : {}) })
    return BigInt(balance.balance)
  })
  const [sui, wal] = await Promise.all([read(SUI_TYPE_ARG), read(normalizeStructTag(walCoinType))])
  return { sui, wal }
}

/**
 * The WAL coin type of a Walrus deployment, read as the Walrus SDK reads it:
 * the coin that `staking::stake_with_pool` of the package defining the
 * system object takes. Two calls (the system object, the function).
 */
export async function walCoinType (client: SuiGrpcClient, systemObjectId: string, options: { signal?: AbortSignal } = {}): Promise<string> {
  const signal = options.signal
  const { object } = await remote(`reading the Walrus system object ${systemObjectId}`, signal, async () => client.getObject({ objectId: checkAddress(systemObjectId), ...(signal != null ? { signal } : {}) }))
  const packageId = object.type.split('::')[0]
  if (packageId == null || !object.type.endsWith('::system::System')) throw new LedgerError(`object ${systemObjectId} is not a Walrus system object (type ${object.type.slice(0, 200)})`)
  const { function: fn } = await remote('reading walrus::staking::stake_with_pool', signal, async () => client.getMoveFunction({ packageId, moduleName: 'staking', name: 'stake_with_pool', ...(signal != null ? { signal } : {}) }))
  const coin = fn.parameters[1]?.body
  const wal = coin?.$kind === 'datatype' ? coin.datatype.typeParameters[0] : undefined
  if (wal?.$kind !== 'datatype') throw new LedgerError(`walrus::staking::stake_with_pool of ${packageId} does not take a Coin<WAL>`)
  return normalizeStructTag(wal.datatype.typeName)
}
