import type { SuiClientTypes } from '@mysten/sui/client'
import { Signer, type PublicKey, type SignatureScheme } from '@mysten/sui/cryptography'
import { oneTransactionAtATime } from '../one-transaction-at-a-time.js'
import { paymentOf, type OnPaid, type PaymentKind } from '../payments.js'

type ExecuteArgs = Parameters<Signer['signAndExecuteTransaction']>[0]

/**
 * The node key as the Walrus SDK signs with it: the same signatures, but each
 * transaction the SDK has it execute is the key's only one under way
 * (oneTransactionAtATime: built, signed and executed alone), and asks the
 * full node for its balance changes too, so what it cost the address (gas, an
 * upload relay's tip, the WAL taken for storage) is told, when anyone
 * listens, a failed one's gas included.
 */
export class PayingSigner extends Signer {
  private readonly key: Signer
  private readonly kind: PaymentKind
  private readonly onPaid?: OnPaid
  /** The write or extension's own: the SDK gives its signer none, and a transaction waiting its turn must stop with the node. */
  private readonly signal?: AbortSignal

  constructor (key: Signer, kind: PaymentKind, onPaid?: OnPaid, signal?: AbortSignal) {
    super()
    this.key = key
    this.kind = kind
    if (onPaid != null) this.onPaid = onPaid
    if (signal != null) this.signal = signal
  }

  async sign (bytes: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    return this.key.sign(bytes)
  }

  getKeyScheme (): SignatureScheme {
    return this.key.getKeyScheme()
  }

  getPublicKey (): PublicKey {
    return this.key.getPublicKey()
  }

  override async signAndExecuteTransaction ({ transaction, client }: ExecuteArgs): Promise<SuiClientTypes.TransactionResult<{ transaction: true, effects: true }>> {
    const address = this.toSuiAddress()
    return oneTransactionAtATime(address, async () => {
      transaction.setSenderIfNotSet(address)
      const bytes = await transaction.build({ client })
      const { signature } = await this.signTransaction(bytes)
      const result = await client.core.executeTransaction({ transaction: bytes, signatures: [signature], include: { transaction: true, effects: true, balanceChanges: true } })
      this.onPaid?.(paymentOf(result.Transaction ?? result.FailedTransaction, address, this.kind))
      // Final before the key's next transaction is built: its gas coins' new versions are what that one reads.
      await client.core.waitForTransaction({ result })
      return result
    }, this.signal)
  }
}
