import { Transaction } from '@mysten/sui/transactions'
import type { AnchorInput, ModelInput } from '../types.js'

/** Attribute keys herd writes on Walrus Blob objects; prefixed so they sit beside anyone else's. */
export const ATTR = {
  kind: 'herd:kind',
  name: 'herd:name',
  version: 'herd:version',
  size: 'herd:size',
  chunkSize: 'herd:chunk-size',
  chunkRoot: 'herd:chunk-root',
  chunkHashes: 'herd:chunk-hashes',
  format: 'herd:format',
  inputs: 'herd:inputs',
  outputs: 'herd:outputs',
  root: 'herd:root',
  count: 'herd:count'
} as const

/** What one anchor may write on chain: it is paid for in storage on every Blob object that carries it. */
export const MAX_ANCHOR_ATTRIBUTE_BYTES = 256

export interface ObjectRef { objectId: string, version: string | number, digest: string }

/**
 * One programmable transaction that writes each attribute with
 * `walrus::blob::insert_or_update_metadata_pair`, which creates the Blob's
 * metadata if it has none, so no custom Move package is needed.
 */
export function buildAttributesTransaction (walrusPackageId: string, blob: string | ObjectRef, attributes: Record<string, string>): Transaction {
  const tx = new Transaction()
  const self = typeof blob === 'string' ? tx.object(blob) : tx.objectRef(blob)
  for (const [key, value] of Object.entries(attributes)) {
    tx.moveCall({ target: `${walrusPackageId}::blob::insert_or_update_metadata_pair`, arguments: [self, tx.pure.string(key), tx.pure.string(value)] })
  }
  return tx
}

export function modelAttributes (model: ModelInput): Record<string, string> {
  return {
    [ATTR.kind]: 'model',
    [ATTR.name]: model.name,
    [ATTR.version]: model.version,
    [ATTR.size]: String(model.size),
    [ATTR.chunkSize]: String(model.chunkSize),
    [ATTR.chunkRoot]: model.chunkRoot,
    [ATTR.chunkHashes]: model.chunkHashesBlobId,
    [ATTR.format]: model.format,
    [ATTR.inputs]: JSON.stringify(model.inputs),
    [ATTR.outputs]: JSON.stringify(model.outputs)
  }
}

export function anchorAttributes (anchor: AnchorInput): Record<string, string> {
  return { [ATTR.kind]: 'anchor', [ATTR.root]: anchor.root, [ATTR.count]: String(anchor.count) }
}

/** UTF-8 bytes of the keys and values, as they are stored in the Blob's `VecMap<String, String>`. */
export function attributeBytes (attributes: Record<string, string>): number {
  const encoder = new TextEncoder()
  let total = 0
  for (const [key, value] of Object.entries(attributes)) total += encoder.encode(key).length + encoder.encode(value).length
  return total
}
