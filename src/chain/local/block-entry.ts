import { decodeBlock, txIdOf, type DecodedBlock } from '../codec.js'
import { verifyTx, type VerifiedTx } from '../signing.js'
import type { AnchorEntry, ModelEntry } from '../types.js'
import { validateAnchorInput, validateModelInput } from '../validation.js'

/** The registry entry or anchor that one block's signed transaction makes. */
export type BlockEntry =
  | { kind: 'model', entry: ModelEntry }
  | { kind: 'anchor', entry: AnchorEntry }

/** The entry a verified transaction makes at `height`; throws InvalidTransactionError for a payload herd would refuse. */
export function entryOf (tx: VerifiedTx, txId: string, height: number, time: number): BlockEntry {
  if (tx.payload.kind === 'registerModel') {
    const model = validateModelInput(tx.payload.model)
    return { kind: 'model', entry: { ...model, registeredBy: tx.sender, txId, height, time } }
  }
  const anchor = validateAnchorInput(tx.payload.anchor)
  return { kind: 'anchor', entry: { ...anchor, ledger: 'local', txId, height, time, address: tx.sender } }
}

/**
 * Decodes a block and checks its transaction's signature and payload: the entry
 * comes from what was signed, never from an index. Throws InvalidTransactionError.
 */
export async function entryOfBlock (bytes: Uint8Array): Promise<{ block: DecodedBlock, entry: BlockEntry }> {
  const block = decodeBlock(bytes)
  const entry = entryOf(await verifyTx(block.txBytes), txIdOf(block.txBytes), block.height, block.time)
  return { block, entry }
}

export function describeEntry (e: BlockEntry): string {
  return e.kind === 'model' ? `the registration of ${e.entry.name}@${e.entry.version}` : `the anchor of root ${e.entry.root}`
}
