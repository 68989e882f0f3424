import { bcs } from '@mysten/sui/bcs'
import { blobIdFromInt } from '@mysten/walrus'
import { parseBlobId } from '../blob/blob-id.js'
import { WalrusProtocolError } from './errors.js'
import type { BlobLifetime } from './types.js'

/** The Move layout of `walrus::blob::Blob` and `walrus::shared_blob::SharedBlob` (contracts/walrus/sources/system/blob.move, shared_blob.move). */
const Storage = bcs.struct('Storage', { id: bcs.Address, start_epoch: bcs.u32(), end_epoch: bcs.u32(), storage_size: bcs.u64() })
export const BlobMove = bcs.struct('Blob', {
  id: bcs.Address,
  registered_epoch: bcs.u32(),
  blob_id: bcs.u256(),
  size: bcs.u64(),
  encoding_type: bcs.u8(),
  certified_epoch: bcs.option(bcs.u32()),
  storage: Storage,
  deletable: bcs.bool()
})
const SharedBlob = bcs.struct('SharedBlob', { id: bcs.Address, blob: BlobMove, funds: bcs.struct('Balance', { value: bcs.u64() }) })

/** A Blob or SharedBlob object as the Sui client returns it, with its BCS content. */
export interface BlobObjectView {
  objectId: string
  type: string
  owner: { $kind: string, AddressOwner?: string }
  content: Uint8Array
}

/**
 * What a Blob (or SharedBlob) object says of its blob's lifetime. The object's
 * type decides the layout; a type of neither kind, or content that does not
 * parse, is refused rather than guessed at.
 */
export function lifetimeOfBlobObject (object: BlobObjectView, epoch: number): BlobLifetime {
  const shared = /::shared_blob::SharedBlob$/.test(object.type)
  if (!shared && !/::blob::Blob$/.test(object.type)) throw new WalrusProtocolError(`object ${object.objectId} is a ${object.type.slice(0, 200)}, not a Walrus Blob`)
  let blob: ReturnType<typeof BlobMove.parse>
  try {
    blob = shared ? SharedBlob.parse(object.content).blob : BlobMove.parse(object.content)
  } catch (err) {
    throw new WalrusProtocolError(`object ${object.objectId}: its content is not a Walrus ${shared ? 'SharedBlob' : 'Blob'}: ${(err as Error).message}`, { cause: err })
  }
  const endEpoch = blob.storage.end_epoch
  const owner = object.owner.$kind === 'AddressOwner' ? object.owner.AddressOwner : undefined
  return {
    blobId: parseBlobId(blobIdFromInt(blob.blob_id)),
    objectId: object.objectId,
    size: Number(blob.size),
    endEpoch,
    ...(owner != null ? { owner } : {}),
    shared,
    expired: endEpoch <= epoch
  }
}
