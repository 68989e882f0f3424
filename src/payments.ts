import type { SuiClientTypes } from '@mysten/sui/client'
import { normalizeStructTag, normalizeSuiAddress, SUI_TYPE_ARG } from '@mysten/sui/utils'

/** What a transaction the node signed was for: the ledger's writes, and the Walrus SDK's. */
export type PaymentKind = 'registry' | 'anchor' | 'blob-write' | 'blob-extend'

/** What one transaction cost the node's address: SUI (gas, and an upload relay's tip) in MIST, WAL (storage) in FROST. */
export interface Payment {
  kind: PaymentKind
  digest: string
  suiMist: bigint
  walFrost: bigint
}

/** Told of every transaction the node's key paid for, failed ones too (Sui charges their gas). */
export type OnPaid = (payment: Payment) => void

const SUI = normalizeStructTag(SUI_TYPE_ARG)

interface Executed { digest: string, effects?: SuiClientTypes.TransactionEffects | undefined, balanceChanges?: SuiClientTypes.BalanceChange[] | undefined }

/**
 * What `sender` paid for an executed transaction: its own balance changes
 * when the node returned them (gas, a relay's tip, WAL taken for storage),
 * else the gas in its effects. WAL is the Walrus coin (`…::wal::WAL`): the
 * only coin other than SUI the Walrus SDK's transactions take.
 */
export function paymentOf (tx: Executed, sender: string, kind: PaymentKind): Payment {
  if (tx.balanceChanges != null && tx.balanceChanges.length > 0) {
    const owner = normalizeSuiAddress(sender)
    let suiMist = 0n
    let walFrost = 0n
    for (const change of tx.balanceChanges) {
      if (normalizeSuiAddress(change.address) !== owner) continue
      const type = normalizeStructTag(change.coinType)
      if (type === SUI) suiMist -= BigInt(change.amount)
      else if (type.endsWith('::wal::WAL')) walFrost -= BigInt(change.amount)
    }
    return { kind, digest: tx.digest, suiMist, walFrost }
  }
  const gas = tx.effects?.gasUsed
  const suiMist = gas != null ? BigInt(gas.computationCost) + BigInt(gas.storageCost) - BigInt(gas.storageRebate) : 0n
  return { kind, digest: tx.digest, suiMist, walFrost: 0n }
}
