import { InvalidBlobIdError } from './errors.js'

/** Walrus blob IDs are 32 bytes: a Blake2b-256 hash. */
export const BLOB_ID_BYTES = 32
/** Url-safe base64 of 32 bytes without padding. */
export const BLOB_ID_LENGTH = 43

const BASE64URL = /^[A-Za-z0-9_-]{43}$/
const U256_MAX = (1n << 256n) - 1n

/** A Walrus blob ID in its string form (url-safe base64, no padding, 43 characters). */
export type BlobId = string & { readonly __brand: 'BlobId' }

/** True when `value` is a well-formed blob ID string. */
export function isBlobId (value: unknown): value is BlobId {
  if (typeof value !== 'string' || !BASE64URL.test(value)) return false
  // The last character carries 4 padding bits that must be zero for a canonical encoding.
  return Buffer.from(value, 'base64url').toString('base64url') === value
}

/** Checks and brands a blob ID string; throws InvalidBlobIdError saying what is wrong. */
export function parseBlobId (value: unknown): BlobId {
  if (typeof value !== 'string') throw new InvalidBlobIdError(`blob ID must be a string, got ${typeof value}`)
  if (value.length !== BLOB_ID_LENGTH) {
    throw new InvalidBlobIdError(`blob ID must be ${BLOB_ID_LENGTH} characters of url-safe base64, got ${value.length} characters`)
  }
  if (!BASE64URL.test(value)) throw new InvalidBlobIdError('blob ID may hold only A-Z, a-z, 0-9, "-" and "_"')
  if (!isBlobId(value)) throw new InvalidBlobIdError('blob ID is not a canonical base64url encoding of 32 bytes')
  return value
}

export function blobIdFromBytes (bytes: Uint8Array): BlobId {
  if (bytes.length !== BLOB_ID_BYTES) throw new InvalidBlobIdError(`blob ID must be ${BLOB_ID_BYTES} bytes, got ${bytes.length}`)
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url') as BlobId
}

export function blobIdToBytes (blobId: string): Uint8Array {
  return new Uint8Array(Buffer.from(parseBlobId(blobId), 'base64url'))
}

/** The on-chain u256 of a blob ID: its 32 bytes read little-endian, as BCS does. */
export function blobIdToU256 (blobId: string): bigint {
  const bytes = blobIdToBytes(blobId)
  let value = 0n
  for (let i = BLOB_ID_BYTES - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i] ?? 0)
  return value
}

export function blobIdFromU256 (value: bigint | string): BlobId {
  let n: bigint
  try {
    n = typeof value === 'bigint' ? value : BigInt(value)
  } catch {
    throw new InvalidBlobIdError(`not an integer: ${String(value).slice(0, 80)}`)
  }
  if (n < 0n || n > U256_MAX) throw new InvalidBlobIdError('blob ID u256 out of range')
  const bytes = new Uint8Array(BLOB_ID_BYTES)
  for (let i = 0; i < BLOB_ID_BYTES; i++) {
    bytes[i] = Number(n & 0xffn)
    n >>= 8n
  }
  return blobIdFromBytes(bytes)
}
