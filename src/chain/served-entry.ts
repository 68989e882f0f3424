import { isDeepStrictEqual } from 'node:util'
import { isBlobId } from '../blob/blob-id.js'
import { MAX_TX_BYTES } from './codec.js'
import { LedgerCorruptError } from './errors.js'
import { describeEntry, entryOfBlock, type BlockEntry } from './local/block-entry.js'
import { normalizeAddress } from './local/chain-store.js'
import type { AnchorEntry, ModelEntry } from './types.js'
import { parseModelRef } from './validation.js'

/** A block is one signed transaction and under a hundred bytes more, in base64. */
const MAX_BLOCK_BASE64 = Math.ceil((MAX_TX_BYTES + 1024) / 3) * 4
const MAX_LIST = 100_000
/** Blocks already checked, by their base64: a block never changes, so its signature is checked once. */
const MAX_VERIFIED = 10_000

/**
 * Checks a devnet ledger server's answers rather than trusting them: each entry
 * comes with its block, whose signed transaction must verify and make exactly
 * the entry served, and that entry must be the one asked for. What the server
 * cannot be caught at this way (an entry left out of a list, the newest version
 * of a name, the block's place in the chain) is for `herd ledger verify`.
 */
export class ServedEntryChecker {
  private readonly verified = new Map<string, BlockEntry>()

  async model (ref: string, served: unknown): Promise<ModelEntry> {
    const made = await this.check(served, `model ${ref}`)
    const wanted = isBlobId(ref) ? { blobId: ref } : parseModelRef(ref)
    const matches = made.kind === 'model' && ('blobId' in wanted
      ? made.entry.blobId === wanted.blobId
      : made.entry.name === wanted.name && (wanted.version == null || made.entry.version === wanted.version))
    if (!matches) throw new LedgerCorruptError(`asked for model ${ref}, the ledger answered with ${describeEntry(made)}`)
    return made.entry as ModelEntry
  }

  async models (served: unknown): Promise<ModelEntry[]> {
    const out: ModelEntry[] = []
    for (const item of this.list(served, 'models')) {
      const made = await this.check(item, 'the list of models')
      if (made.kind !== 'model') throw new LedgerCorruptError(`the list of models holds ${describeEntry(made)}`)
      out.push(made.entry)
    }
    return out
  }

  async anchor (rootOrTxId: string, served: unknown): Promise<AnchorEntry> {
    const made = await this.check(served, `anchor ${rootOrTxId}`)
    const matches = made.kind === 'anchor' && (/^[0-9a-f]{64}$/.test(rootOrTxId) ? made.entry.root === rootOrTxId : made.entry.txId === rootOrTxId)
    if (!matches) throw new LedgerCorruptError(`asked for anchor ${rootOrTxId}, the ledger answered with ${describeEntry(made)}`)
    return made.entry as AnchorEntry
  }

  async anchors (address: string, served: unknown): Promise<AnchorEntry[]> {
    const owner = normalizeAddress(address)
    const out: AnchorEntry[] = []
    for (const item of this.list(served, 'anchors')) {
      const made = await this.check(item, `the anchors of ${owner}`)
      if (made.kind !== 'anchor' || made.entry.address !== owner) throw new LedgerCorruptError(`asked for the anchors of ${owner}, the ledger answered with ${describeEntry(made)}${made.kind === 'anchor' ? ` by ${made.entry.address}` : ''}`)
      out.push(made.entry)
    }
    return out
  }

  private list (served: unknown, field: 'models' | 'anchors'): unknown[] {
    const items = (served as Record<string, unknown> | null)?.[field]
    if (!Array.isArray(items) || items.length > MAX_LIST) throw new LedgerCorruptError(`the ledger's answer has no list of ${field} (of at most ${MAX_LIST})`)
    return items
  }

  private async check (served: unknown, what: string): Promise<BlockEntry> {
    if (typeof served !== 'object' || served == null) throw new LedgerCorruptError(`${what}: the ledger's answer is not an entry`)
    const { block, ...fields } = served as Record<string, unknown>
    if (typeof block !== 'string' || block.length > MAX_BLOCK_BASE64) throw new LedgerCorruptError(`${what}: the ledger's answer carries no block to check it against`)
    let made = this.verified.get(block)
    if (made == null) {
      try {
        made = (await entryOfBlock(Buffer.from(block, 'base64'))).entry
      } catch (err) {
        throw new LedgerCorruptError(`${what}: the block served does not verify: ${(err as Error).message}`)
      }
      if (this.verified.size >= MAX_VERIFIED) this.verified.delete(this.verified.keys().next().value!)
      this.verified.set(block, made)
    }
    if (!isDeepStrictEqual(fields, made.entry)) throw new LedgerCorruptError(`${what}: the entry served is not the one its signed block makes`)
    return made
  }
}
