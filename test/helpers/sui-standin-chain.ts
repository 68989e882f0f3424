import { randomBytes } from 'node:crypto'
import { normalizeSuiAddress, toBase58 } from '@mysten/sui/utils'

/**
 * The state the Sui stand-ins answer from: objects with versions, digests,
 * owners and Walrus metadata attributes, coin balances, and executed
 * transactions with their checkpoints. Shared by the gRPC and GraphQL
 * stand-ins, as one full node serves both.
 */
export const SUI_TYPE = '0x0000000000000000000000000000000000000000000000000000000000000002::sui::SUI'

export interface StandInObject {
  objectId: string
  version: bigint
  digest: string
  type: string
  owner: string
  /** A shared object (the Walrus system object): no owner can use it as an owned input. */
  shared?: boolean
  /** The Move struct's JSON, as the services render it (u64/u256 as strings). */
  json: Record<string, unknown>
  /** The Move struct's BCS, for clients that parse contents themselves (the Walrus SDK). */
  bcs?: Uint8Array
  /** The Blob's `metadata` dynamic field, when it has one. */
  attributes?: Map<string, string>
  previousTransaction?: string
}

export interface StandInTransaction { digest: string, checkpoint: bigint, timestampMs: number, success: boolean, error?: string, created?: Array<{ objectId: string, type: string }>, balanceChanges?: Array<{ address: string, coinType: string, amount: string }>, transaction?: unknown }

export const newDigest = (): string => toBase58(randomBytes(32))
export const newObjectId = (): string => normalizeSuiAddress(`0x${randomBytes(32).toString('hex')}`)

export class SuiChain {
  readonly objects = new Map<string, StandInObject>()
  readonly transactions = new Map<string, StandInTransaction>()
  /** `${owner} ${coinType}` → balance in the coin's smallest unit. */
  readonly balances = new Map<string, bigint>()
  readonly gasCoins = new Map<string, string>()
  checkpoint = 1000n
  epoch = 700n
  /** The Walrus prices and WAL type the Walrus calls charge at, once the test adds the Walrus system state with a WAL type. */
  walrusPricing?: { walType: string, storagePricePerUnit: bigint, writePricePerUnit: bigint }
  /** While a transaction executes: the net change of each `${owner} ${coinType}`, which its effects report as balance changes. */
  changes?: Map<string, bigint>

  add (object: Omit<StandInObject, 'version' | 'digest'> & { version?: bigint }): StandInObject {
    const full: StandInObject = { version: 1n, digest: newDigest(), ...object, objectId: normalizeSuiAddress(object.objectId), owner: normalizeSuiAddress(object.owner) }
    this.objects.set(full.objectId, full)
    return full
  }

  /** Another writer touched the object: its version and digest move on. */
  bump (objectId: string): void {
    const object = this.objects.get(normalizeSuiAddress(objectId))
    if (object == null) throw new Error(`no object ${objectId}`)
    object.version += 1n
    object.digest = newDigest()
  }

  balance (owner: string, coinType: string): bigint {
    return this.balances.get(`${normalizeSuiAddress(owner)} ${coinType}`) ?? 0n
  }

  /** Funds an address; SUI also gives it a gas coin object, as a faucet would. */
  fund (owner: string, coinType: string, amount: bigint): void {
    const address = normalizeSuiAddress(owner)
    this.balances.set(`${address} ${coinType}`, this.balance(address, coinType) + amount)
    if (this.changes != null) this.changes.set(`${address} ${coinType}`, (this.changes.get(`${address} ${coinType}`) ?? 0n) + amount)
    if (coinType === SUI_TYPE && !this.gasCoins.has(address)) {
      const coin = this.add({ objectId: newObjectId(), type: `0x2::coin::Coin<${SUI_TYPE}>`, owner: address, json: { balance: String(amount) } })
      this.gasCoins.set(address, coin.objectId)
    }
  }
}
