import type { BlockEntry } from './block-entry.js'

// The local ledger's indexes. An index entry is only a pointer: its value is the
// height of the block whose signed transaction makes it, and a read follows the
// pointer and checks that the block's entry makes the key it was found under.

const pad = (height: number): string => String(height).padStart(12, '0')
export const modelKey = (name: string, version: string): string => `model/${name}/${version}`
/** Every version of a name, in level's key order: `model/name/` up to `model/name0` ('0' follows '/'). */
export const modelVersionsRange = (name: string): { gte: string, lt: string } => ({ gte: `model/${name}/`, lt: `model/${name}0` })
export const modelBlobKey = (blobId: string): string => `model-blob/${blobId}`
export const anchorKey = (root: string): string => `anchor/${root}`
export const anchorTxKey = (txId: string): string => `anchor-tx/${txId}`
export const addressAnchorsRange = (address: string): { gte: string, lt: string } => ({ gte: `addr-anchor/${address}/`, lt: `addr-anchor/${address}0` })
const addressAnchorKey = (address: string, height: number): string => `addr-anchor/${address}/${pad(height)}`

/** Heights up to 2^53: the largest a block height can be as a JS number. */
const POINTER = /^(0|[1-9]\d{0,15})$/

export function pointerValue (height: number): string {
  return String(height)
}

/** The height an index value names, or undefined when the value is not a height. */
export function parsePointer (value: string): number | undefined {
  if (!POINTER.test(value)) return undefined
  const height = Number(value)
  return Number.isSafeInteger(height) ? height : undefined
}

/**
 * Every index key a block's entry makes. `model-blob/` names the first
 * registration of a blob ID, so the store skips it when the key already exists.
 */
export function indexKeysOf (e: BlockEntry): string[] {
  if (e.kind === 'model') return [modelKey(e.entry.name, e.entry.version), modelBlobKey(e.entry.blobId)]
  return [anchorKey(e.entry.root), anchorTxKey(e.entry.txId), addressAnchorKey(e.entry.address, e.entry.height)]
}

/** True when `key` is one of the keys the block's entry makes: what a read checks after following a pointer. */
export function entryMakesKey (e: BlockEntry, key: string): boolean {
  return indexKeysOf(e).includes(key)
}
