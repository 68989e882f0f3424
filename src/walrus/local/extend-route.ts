import { verifyPersonalMessageSignature } from '@mysten/sui/verify'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { isBlobId } from '../../blob/blob-id.js'
import { extendMessage } from '../extend-message.js'
import type { DiskBlobStore } from './disk-store.js'
import { sendError } from './replies.js'

export const MAX_EPOCHS_AHEAD = 53

const extendBody = z.strictObject({
  currentEndEpoch: z.number().int().nonnegative(),
  endEpoch: z.number().int().positive(),
  /** A Sui personal-message signature (base64, with its scheme flag and public key) over `extendMessage`. */
  signature: z.string().min(1).max(4096).optional()
})

export interface ExtendContext {
  store: DiskBlobStore
  currentEpoch: () => number
  encodedLength: (size: number) => number
  onExtended: () => void
}

/**
 * `POST /herd/v1/blobs/:blobId/extend`: the devnet's `extend_blob`. Only the
 * owner's signature extends an owned blob, anyone extends a shared one, an
 * expired blob cannot be extended, and a signature over a stale end epoch
 * (a replay, or a second try of an extension already made) is refused.
 */
export async function extendBlob (context: ExtendContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { blobId } = request.params as { blobId: string }
  if (!isBlobId(blobId)) return sendError(reply, 400, 'INVALID_BLOB_ID', `"${blobId.slice(0, 64)}" is not a blob ID`)
  const parsed = extendBody.safeParse(request.body)
  if (!parsed.success) return sendError(reply, 400, 'MALFORMED_REQUEST', z.prettifyError(parsed.error))
  const { currentEndEpoch, endEpoch, signature } = parsed.data
  return context.store.withLock(blobId, async () => {
    const record = context.store.get(blobId)
    if (record == null) return sendError(reply, 404, 'BLOB_NOT_FOUND', `could not find blob ${blobId}`)
    const epoch = context.currentEpoch()
    if (record.expired || record.endEpoch <= epoch) return sendError(reply, 409, 'BLOB_EXPIRED', `blob ${blobId} expired at epoch ${record.endEpoch} and cannot be extended`)
    if (currentEndEpoch !== record.endEpoch) return sendError(reply, 409, 'STALE_END_EPOCH', `blob ${blobId} ends at epoch ${record.endEpoch}, not ${currentEndEpoch}`)
    if (endEpoch <= record.endEpoch) return sendError(reply, 400, 'MALFORMED_REQUEST', `end epoch ${endEpoch} does not extend past ${record.endEpoch}`)
    if (endEpoch - epoch > MAX_EPOCHS_AHEAD) return sendError(reply, 400, 'MALFORMED_REQUEST', `end epoch ${endEpoch} is more than ${MAX_EPOCHS_AHEAD} epochs past the current epoch ${epoch}`)
    if (!record.shared) {
      if (record.owner == null) return sendError(reply, 403, 'NOT_OWNER', `the publisher owns blob ${blobId}'s object: no one else can extend it`)
      if (signature == null) return sendError(reply, 403, 'NOT_OWNER', `extending blob ${blobId} needs its owner's signature`)
      try {
        await verifyPersonalMessageSignature(extendMessage(blobId, currentEndEpoch, endEpoch), signature, { address: record.owner })
      } catch {
        return sendError(reply, 403, 'NOT_OWNER', `the signature is not ${record.owner}'s over this extension of blob ${blobId}`)
      }
    }
    await context.store.updateRecord({ ...record, endEpoch })
    context.onExtended()
    return reply.send({ blobId, objectId: record.objectId, endEpoch, cost: context.encodedLength(record.size) * (endEpoch - record.endEpoch) })
  })
}
