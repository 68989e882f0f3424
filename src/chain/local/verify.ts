import { decodeBlock, GENESIS_PREV_HASH, sha256, txIdOf } from '../codec.js'
import { verifyTx } from '../signing.js'
import { entryOf, type BlockEntry } from './block-entry.js'
import type { ChainHead, IndexEntry } from './chain-store.js'
import { indexKeysOf, parsePointer, pointerValue } from './indexes.js'

export interface ChainFault {
  /** The block at fault; for an index entry, the block it belongs to or points at, -1 when none. */
  height: number
  check: 'decode' | 'height' | 'link' | 'signature' | 'payload' | 'duplicate' | 'time' | 'head' | 'index'
  message: string
  /** The index entry at fault, for check `index`. */
  key?: string
}

export interface ChainReport {
  valid: boolean
  blocks: number
  head?: ChainHead
  models: number
  anchors: number
  /** Index entries compared with the blocks; absent when the source does not show its indexes. */
  indexEntries?: number
  fault?: ChainFault
}

/** A source of blocks in height order, page by page: a local store or a ledger's HTTP API. */
export interface BlockSource {
  head(): ChainHead | undefined | Promise<ChainHead | undefined>
  blocks(from: number, limit: number): Promise<Array<{ height: number, bytes: Uint8Array }>>
  /** The raw index entries after `after`, in key order: every one must be one the blocks make. */
  indexEntries?(after: string | undefined, limit: number): Promise<IndexEntry[]>
}

const PAGE = 500

/**
 * Walks the whole chain from genesis and stops at the first fault: a block
 * that does not decode, a gap, a broken hash link, a bad signature, an invalid
 * or repeated entry, time going backwards, or a head that is not the last block.
 * Then, when the source shows its indexes, compares every index entry with the
 * ones the blocks make: one more, one missing, or one that points elsewhere is a
 * fault naming its key.
 */
export async function verifyChain (source: BlockSource, options: { signal?: AbortSignal } = {}): Promise<ChainReport> {
  const head = await source.head()
  const report: ChainReport = { valid: true, blocks: 0, models: 0, anchors: 0 }
  if (head != null) report.head = head
  const fail = (fault: ChainFault): ChainReport => ({ ...report, valid: false, fault })
  const models = new Set<string>()
  const roots = new Set<string>()
  const indexes = new Map<string, string>()
  let expected = 0
  let prevHash: Uint8Array = GENESIS_PREV_HASH
  let lastTime = 0
  for (;;) {
    options.signal?.throwIfAborted()
    const page = await source.blocks(expected, PAGE)
    for (const { height, bytes } of page) {
      if (height !== expected) return fail({ height: expected, check: 'height', message: `block ${expected} is missing (next stored block is ${height})` })
      let block
      try {
        block = decodeBlock(bytes)
      } catch (err) {
        return fail({ height, check: 'decode', message: (err as Error).message })
      }
      if (block.height !== height) return fail({ height, check: 'height', message: `block stored at ${height} says it is block ${block.height}` })
      if (!Buffer.from(block.prevHash).equals(prevHash)) {
        return fail({ height, check: 'link', message: `previous-hash ${Buffer.from(block.prevHash).toString('hex')} is not the hash of block ${height - 1} (${Buffer.from(prevHash).toString('hex')})` })
      }
      if (block.time < lastTime) return fail({ height, check: 'time', message: `time ${block.time} is before the previous block's ${lastTime}` })
      let verified
      try {
        verified = await verifyTx(block.txBytes)
      } catch (err) {
        return fail({ height, check: 'signature', message: `transaction ${txIdOf(block.txBytes)}: ${(err as Error).message}` })
      }
      let made: BlockEntry
      try {
        made = entryOf(verified, txIdOf(block.txBytes), height, block.time)
      } catch (err) {
        return fail({ height, check: 'payload', message: (err as Error).message })
      }
      if (made.kind === 'model') {
        const key = `${made.entry.name}@${made.entry.version}`
        if (models.has(key)) return fail({ height, check: 'duplicate', message: `model ${key} registered twice` })
        models.add(key)
      } else {
        if (roots.has(made.entry.root)) return fail({ height, check: 'duplicate', message: `root ${made.entry.root} anchored twice` })
        roots.add(made.entry.root)
      }
      // A blob ID registered again keeps pointing at its first registration.
      for (const key of indexKeysOf(made)) if (!indexes.has(key)) indexes.set(key, pointerValue(height))
      prevHash = sha256(bytes)
      lastTime = block.time
      expected++
      report.blocks++
    }
    if (page.length < PAGE) break
  }
  report.models = models.size
  report.anchors = roots.size
  if (head == null) {
    if (report.blocks > 0) return fail({ height: 0, check: 'head', message: `the store has ${report.blocks} blocks but no head` })
  } else if (head.height !== report.blocks - 1) {
    return fail({ height: report.blocks, check: 'head', message: `head says height ${head.height} but the chain ends at ${report.blocks - 1}: blocks are missing` })
  } else if (head.hash !== Buffer.from(prevHash).toString('hex')) {
    return fail({ height: head.height, check: 'head', message: `head hash ${head.hash} is not the hash of the last block` })
  }
  if (source.indexEntries == null) return report
  const checked = await checkIndexes(source.indexEntries.bind(source), indexes, options.signal)
  if (typeof checked !== 'number') return fail(checked)
  report.indexEntries = checked
  return report
}

const INDEX_PAGE = 1000

/** Compares the source's index entries with those the blocks make; the count compared, or the first fault. */
async function checkIndexes (page: NonNullable<BlockSource['indexEntries']>, expected: Map<string, string>, signal?: AbortSignal): Promise<ChainFault | number> {
  const seen = new Set<string>()
  let after: string | undefined
  for (;;) {
    signal?.throwIfAborted()
    const entries = await page(after, INDEX_PAGE)
    for (const { key, value } of entries) {
      // Keys come in order, each after the last: a source that repeats itself would otherwise never end.
      if (after != null && key <= after) return { height: -1, check: 'index', key, message: `index entry ${key} is out of order (after ${after})` }
      after = key
      const wanted = expected.get(key)
      const pointed = parsePointer(value) ?? -1
      if (wanted == null) return { height: pointed, check: 'index', key, message: `index entry ${key} is made by no block` }
      if (value !== wanted) return { height: Number(wanted), check: 'index', key, message: `index entry ${key} says ${JSON.stringify(value.slice(0, 100))}, the blocks say ${wanted}` }
      seen.add(key)
    }
    if (entries.length < INDEX_PAGE) break
  }
  for (const [key, wanted] of expected) {
    if (!seen.has(key)) return { height: Number(wanted), check: 'index', key, message: `index entry ${key} is missing` }
  }
  return seen.size
}
