import { decodeBlock, GENESIS_PREV_HASH, sha256, txIdOf } from '../codec.js'
import { verifyTx } from '../signing.js'
import { validateAnchorInput, validateModelInput } from '../validation.js'
import type { ChainHead } from './chain-store.js'

export interface ChainFault {
  height: number
  check: 'decode' | 'height' | 'link' | 'signature' | 'payload' | 'duplicate' | 'time' | 'head'
  message: string
}

export interface ChainReport {
  valid: boolean
  blocks: number
  head?: ChainHead
  models: number
  anchors: number
  fault?: ChainFault
}

/** A source of blocks in height order, page by page: a local store or a ledger's HTTP API. */
export interface BlockSource {
  head(): ChainHead | undefined | Promise<ChainHead | undefined>
  blocks(from: number, limit: number): Promise<Array<{ height: number, bytes: Uint8Array }>>
}

const PAGE = 500

/**
 * Walks the whole chain from genesis and stops at the first fault: a block
 * that does not decode, a gap, a broken hash link, a bad signature, an invalid
 * or repeated entry, time going backwards, or a head that is not the last block.
 */
export async function verifyChain (source: BlockSource, options: { signal?: AbortSignal } = {}): Promise<ChainReport> {
  const head = await source.head()
  const report: ChainReport = { valid: true, blocks: 0, models: 0, anchors: 0 }
  if (head != null) report.head = head
  const fail = (fault: ChainFault): ChainReport => ({ ...report, valid: false, fault })
  const models = new Set<string>()
  const roots = new Set<string>()
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
      try {
        if (verified.payload.kind === 'registerModel') {
          const model = validateModelInput(verified.payload.model)
          const key = `${model.name}@${model.version}`
          if (models.has(key)) return fail({ height, check: 'duplicate', message: `model ${key} registered twice` })
          models.add(key)
        } else {
          const anchor = validateAnchorInput(verified.payload.anchor)
          if (roots.has(anchor.root)) return fail({ height, check: 'duplicate', message: `root ${anchor.root} anchored twice` })
          roots.add(anchor.root)
        }
      } catch (err) {
        return fail({ height, check: 'payload', message: (err as Error).message })
      }
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
    return report
  }
  if (head.height !== report.blocks - 1) {
    return fail({ height: report.blocks, check: 'head', message: `head says height ${head.height} but the chain ends at ${report.blocks - 1}: blocks are missing` })
  }
  if (head.hash !== Buffer.from(prevHash).toString('hex')) {
    return fail({ height: head.height, check: 'head', message: `head hash ${head.hash} is not the hash of the last block` })
  }
  return report
}
