import type { Signer } from '@mysten/sui/cryptography'
import { LedgerError } from './errors.js'
import { ChainStore } from './local/chain-store.js'
import { signTx } from './signing.js'
import type { AnchorEntry, AnchorInput, AnchorReceipt, Ledger, ModelEntry, ModelInput } from './types.js'
import { validateAnchorInput, validateModelInput } from './validation.js'

/** The local ledger in this process: for a single node, or as the store behind `herd devnet`'s ledger. */
export class LocalLedger implements Ledger {
  readonly kind = 'local'
  readonly store: ChainStore
  private readonly signer?: Signer

  constructor (store: ChainStore, signer?: Signer) {
    this.store = store
    if (signer != null) this.signer = signer
  }

  static async open (dir: string, signer?: Signer): Promise<LocalLedger> {
    const store = new ChainStore(dir)
    await store.open()
    return new LocalLedger(store, signer)
  }

  get address (): string | undefined {
    return this.signer?.toSuiAddress()
  }

  async registerModel (model: ModelInput): Promise<ModelEntry> {
    const { blobObjectId, ...entry } = validateModelInput(model)
    const result = await this.store.append(await signTx(this.requireSigner(), { kind: 'registerModel', model: entry }))
    return result.model as ModelEntry
  }

  async anchor (anchor: AnchorInput): Promise<AnchorReceipt> {
    const { bundleObjectId, ...entry } = validateAnchorInput(anchor)
    const result = await this.store.append(await signTx(this.requireSigner(), { kind: 'anchor', anchor: entry }))
    return { ledger: this.kind, txId: result.txId, height: result.height, time: result.time, address: result.sender }
  }

  async getModel (ref: string): Promise<ModelEntry> {
    return (await this.store.getModel(ref)).entry
  }

  async listModels (): Promise<ModelEntry[]> {
    return (await this.store.listModels()).map(found => found.entry)
  }

  async getAnchor (rootOrTxId: string): Promise<AnchorEntry> {
    return (await this.store.getAnchor(rootOrTxId)).entry
  }

  async listAnchors (address: string): Promise<AnchorEntry[]> {
    return (await this.store.listAnchors(address)).map(found => found.entry)
  }

  async close (): Promise<void> {
    await this.store.close()
  }

  private requireSigner (): Signer {
    if (this.signer == null) throw new LedgerError('this ledger is read-only: writes need the node key')
    return this.signer
  }
}
