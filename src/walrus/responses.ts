import { z } from 'zod'
import { isBlobId, type BlobId } from '../blob/blob-id.js'
import { WalrusProtocolError } from './errors.js'
import type { BlobLifetime, EpochInfo, ExtendResult, StoredBlob } from './types.js'

const blobIdSchema = z.string().refine(isBlobId, 'not a Walrus blob ID')
const u64 = z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/).transform(Number)])

const newlyCreated = z.object({
  newlyCreated: z.object({
    blobObject: z.object({
      id: z.string(),
      blobId: blobIdSchema,
      size: u64,
      storage: z.object({ endEpoch: z.number().int() }).loose().optional()
    }).loose(),
    cost: u64.optional()
  }).loose()
})

const alreadyCertified = z.object({
  alreadyCertified: z.object({
    blobId: blobIdSchema,
    endEpoch: z.number().int().optional(),
    object: z.string().optional()
  }).loose()
})

const publisherReply = z.union([newlyCreated, alreadyCertified])

/** Reads either reply shape of `PUT /v1/blobs` into one form. */
export function parsePublisherReply (json: unknown): StoredBlob {
  const parsed = publisherReply.safeParse(json)
  if (!parsed.success) {
    throw new WalrusProtocolError(`publisher reply has neither newlyCreated nor alreadyCertified in the expected shape: ${z.prettifyError(parsed.error)}`)
  }
  const reply = parsed.data
  if ('newlyCreated' in reply) {
    const { blobObject, cost } = reply.newlyCreated
    const stored: StoredBlob = { blobId: blobObject.blobId as BlobId, status: 'newlyCreated', objectId: blobObject.id, size: blobObject.size }
    if (blobObject.storage != null) stored.endEpoch = blobObject.storage.endEpoch
    if (cost != null) stored.cost = cost
    return stored
  }
  const { blobId, endEpoch, object } = reply.alreadyCertified
  const stored: StoredBlob = { blobId: blobId as BlobId, status: 'alreadyCertified' }
  if (endEpoch != null) stored.endEpoch = endEpoch
  if (object != null) stored.objectId = object
  return stored
}

const errorBody = z.object({
  error: z.object({
    code: z.number().optional(),
    status: z.string().optional(),
    message: z.string().optional(),
    details: z.array(z.object({ reason: z.string().optional() }).loose()).optional()
  }).loose()
})

/** Pulls the message and reason out of an AIP-193 error body; plain text bodies pass as they are. */
export function parseErrorBody (text: string): { message: string, reason?: string } {
  try {
    const parsed = errorBody.safeParse(JSON.parse(text))
    if (parsed.success) {
      const reason = parsed.data.error.details?.find(d => d.reason != null)?.reason
      const message = parsed.data.error.message ?? parsed.data.error.status ?? text
      return reason != null ? { message, reason } : { message }
    }
  } catch {}
  return { message: text.slice(0, 500).trim() }
}

const epochInfo = z.object({ epoch: z.number().int().nonnegative(), epochMs: z.number().int().positive().optional() }).loose()

export function parseEpochInfo (json: unknown): EpochInfo {
  const parsed = epochInfo.safeParse(json)
  if (!parsed.success) throw new WalrusProtocolError(`Walrus status has no epoch: ${z.prettifyError(parsed.error)}`)
  const { epoch, epochMs } = parsed.data
  return epochMs != null ? { epoch, epochMs } : { epoch }
}

const suiAddress = z.string().regex(/^0x[0-9a-f]{64}$/)
const lifetime = z.object({
  blobId: blobIdSchema,
  objectId: z.string().optional(),
  size: z.number().int().nonnegative(),
  endEpoch: z.number().int().nonnegative(),
  owner: suiAddress.optional(),
  shared: z.boolean(),
  expired: z.boolean()
}).loose()

export function parseBlobLifetime (json: unknown): BlobLifetime {
  const parsed = lifetime.safeParse(json)
  if (!parsed.success) throw new WalrusProtocolError(`blob lifetime is not in the expected shape: ${z.prettifyError(parsed.error)}`)
  const { blobId, objectId, size, endEpoch, owner, shared, expired } = parsed.data
  return { blobId: blobId as BlobId, size, endEpoch, shared, expired, ...(objectId != null ? { objectId } : {}), ...(owner != null ? { owner } : {}) }
}

const extendReply = z.object({ blobId: blobIdSchema, endEpoch: z.number().int().positive(), cost: z.number().int().nonnegative().optional() }).loose()

export function parseExtendReply (json: unknown): ExtendResult {
  const parsed = extendReply.safeParse(json)
  if (!parsed.success) throw new WalrusProtocolError(`extension reply is not in the expected shape: ${z.prettifyError(parsed.error)}`)
  const { blobId, endEpoch, cost } = parsed.data
  return { blobId: blobId as BlobId, endEpoch, ...(cost != null ? { cost } : {}) }
}
