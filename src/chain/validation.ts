import { z } from 'zod'
import { isBlobId, type BlobId } from '../blob/blob-id.js'
import { InvalidModelRefError, InvalidTransactionError } from './errors.js'
import type { AnchorInput, ModelInput } from './types.js'

export const MAX_TENSORS = 64
export const MAX_RANK = 16
export const MAX_ANCHOR_COUNT = 2 ** 32 - 1
export const MAX_MODEL_NAME_LENGTH = 128
export const MAX_MODEL_VERSION_LENGTH = 64
/** `name@version` at their longest; a blob ID (43) is shorter. */
export const MAX_MODEL_REF_LENGTH = MAX_MODEL_NAME_LENGTH + 1 + MAX_MODEL_VERSION_LENGTH
const MAX_BLOB_SIZE = Number.MAX_SAFE_INTEGER

const MODEL_NAME = new RegExp(`^[a-z0-9][a-z0-9._-]{0,${MAX_MODEL_NAME_LENGTH - 1}}$`)
const MODEL_VERSION = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,${MAX_MODEL_VERSION_LENGTH - 1}}$`)
const MODEL_NAME_RULE = `1-${MAX_MODEL_NAME_LENGTH} of a-z, 0-9, ".", "_", "-", starting with a letter or digit`
const MODEL_VERSION_RULE = `1-${MAX_MODEL_VERSION_LENGTH} of A-Z, a-z, 0-9, ".", "_", "+", "-", starting with a letter or digit`

export const modelNameSchema = z.string().regex(MODEL_NAME, `model name: ${MODEL_NAME_RULE}`)
export const modelVersionSchema = z.string().regex(MODEL_VERSION, `model version: ${MODEL_VERSION_RULE}`)
const hashHex = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits')
const blobIdSchema = z.string().refine(isBlobId, 'not a Walrus blob ID (43 characters of url-safe base64)').transform(s => s as BlobId)
const objectIdSchema = z.string().regex(/^0x[0-9a-fA-F]{1,64}$/, 'must be a Sui object ID')

const tensorSpecSchema = z.object({
  name: z.string().min(1).max(256),
  type: z.string().regex(/^[a-z0-9]{1,16}$/, 'tensor type: an onnxruntime type name'),
  shape: z.array(z.union([z.number().int().min(0).max(2 ** 53 - 1), z.string().min(1).max(128)])).max(MAX_RANK)
}).strict()

export const modelInputSchema = z.object({
  name: modelNameSchema,
  version: modelVersionSchema,
  blobId: blobIdSchema,
  size: z.number().int().min(0).max(MAX_BLOB_SIZE),
  chunkSize: z.number().int().min(1024).max(64 * 1024 * 1024),
  chunkRoot: hashHex,
  chunkHashesBlobId: blobIdSchema,
  format: z.string().regex(/^[a-z0-9._-]{1,32}$/, 'format: 1-32 of a-z, 0-9, ".", "_", "-"'),
  inputs: z.array(tensorSpecSchema).max(MAX_TENSORS),
  outputs: z.array(tensorSpecSchema).max(MAX_TENSORS),
  blobObjectId: objectIdSchema.optional()
}).strict().refine(m => m.chunkHashesBlobId !== m.blobId, { message: 'chunkHashesBlobId must name the chunk hashes blob, not the model blob', path: ['chunkHashesBlobId'] })

export const anchorInputSchema = z.object({
  root: hashHex,
  count: z.number().int().min(1).max(MAX_ANCHOR_COUNT),
  bundleBlobId: blobIdSchema,
  bundleObjectId: objectIdSchema.optional()
}).strict()

function check<T> (schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value)
  if (!parsed.success) throw new InvalidTransactionError(`invalid ${what}: ${z.prettifyError(parsed.error)}`)
  return parsed.data
}

export function validateModelInput (value: unknown): ModelInput {
  return check(modelInputSchema, value, 'model registration') as ModelInput
}

export function validateAnchorInput (value: unknown): AnchorInput {
  return check(anchorInputSchema, value, 'anchor') as AnchorInput
}

/**
 * Splits `name@version` (the version is optional). Every ledger reads a model
 * reference through here, and the HTTP ledger before its request, so a
 * reference from a client or a peer is checked once, the same way everywhere:
 * `..` never becomes a path, and a name of any length is a clear refusal.
 */
export function parseModelRef (ref: string): { name: string, version?: string } {
  const shown = ref.length > 80 ? `${JSON.stringify(ref.slice(0, 80))}… (${ref.length} characters)` : JSON.stringify(ref)
  if (ref.length > MAX_MODEL_REF_LENGTH) throw new InvalidModelRefError(`model reference ${shown} is longer than ${MAX_MODEL_REF_LENGTH} characters`)
  const at = ref.indexOf('@')
  const name = at < 0 ? ref : ref.slice(0, at)
  const version = at < 0 ? undefined : ref.slice(at + 1)
  if (!MODEL_NAME.test(name)) throw new InvalidModelRefError(`model reference ${shown} is neither a blob ID nor a model name (${MODEL_NAME_RULE}) with an optional @version`)
  if (version != null && !MODEL_VERSION.test(version)) throw new InvalidModelRefError(`model reference ${shown}: the model version after "@" must be ${MODEL_VERSION_RULE}`)
  return version != null ? { name, version } : { name }
}

/** A model reference as every ledger takes it: a blob ID, or `name[@version]`; throws InvalidModelRefError. */
export function validateModelRef (ref: string): string {
  if (!isBlobId(ref)) parseModelRef(ref)
  return ref
}
