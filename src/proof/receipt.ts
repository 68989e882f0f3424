import { createHash } from 'node:crypto'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { Ed25519PublicKey, type Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { blobIdFromBytes, blobIdToBytes, type BlobId } from '../blob/blob-id.js'
import { signEd25519 } from '../chain/ed25519-signer.js'
import { InvalidReceiptError, ProofFormatError } from './errors.js'
import { Receipt, SignedReceipt } from './pb/proof.js'

export const RECEIPT_VERSION = 1
/** A receipt ID: the hex SHA-256 of the receipt bytes. */
export const RECEIPT_ID = /^[0-9a-f]{64}$/
/** Signed before the receipt bytes, so a receipt signature can never pass for another message of the same key. */
export const RECEIPT_SIGNING_PREFIX = 'herd-receipt-v1\0'
/** A canonical SignedReceipt is about 250 bytes; anything much larger is not one. */
export const MAX_SIGNED_RECEIPT_BYTES = 512

const HASH_BYTES = 32
const PUBLIC_KEY_BYTES = 32
const SIGNATURE_BYTES = 64
const U64_MAX = 2n ** 64n - 1n
const PREFIX = new TextEncoder().encode(RECEIPT_SIGNING_PREFIX)

/** What a node states about one inference it served. */
export interface ReceiptFields {
  modelBlobId: BlobId
  /** The model's registered SHA-256 chunk root, 64 hex digits. */
  chunkRoot: string
  /** SHA-256 of the canonical inputs (`hashTensors`), 32 bytes. */
  inputsHash: Uint8Array
  /** SHA-256 of the canonical outputs, 32 bytes. */
  outputsHash: Uint8Array
  /** The node's raw Ed25519 public key, 32 bytes. */
  nodePublicKey: Uint8Array
  /** Milliseconds since the epoch at the node. */
  time: number
  /** Per-node sequence number, from 1. */
  seq: bigint
}

export interface SignedReceiptInfo {
  /** Hex SHA-256 of the canonical Receipt bytes. */
  id: string
  /** The SignedReceipt encoding: what a bundle holds and the Merkle tree hashes. */
  bytes: Uint8Array
  receipt: ReceiptFields
  /** The canonical Receipt encoding, as signed. */
  receiptBytes: Uint8Array
  /** Raw Ed25519 signature over RECEIPT_SIGNING_PREFIX ‖ receiptBytes, 64 bytes. */
  signature: Uint8Array
}

/** Encodes and signs a receipt with the node key (plain Ed25519, not Sui's personal-message scheme). */
export async function signReceipt (fields: ReceiptFields, signer: Ed25519Keypair): Promise<SignedReceiptInfo> {
  const receiptBytes = encodeReceipt(fields)
  const publicKey = signer.getPublicKey().toRawBytes()
  if (!Buffer.from(publicKey).equals(fields.nodePublicKey)) {
    throw new InvalidReceiptError('the receipt names a node public key other than the signer\'s')
  }
  const signature = signEd25519(signer, signingMessage(receiptBytes)) as Uint8Array<ArrayBuffer>
  const bytes = SignedReceipt.encode({ receipt: receiptBytes as Uint8Array<ArrayBuffer>, signature })
  return { id: receiptId(receiptBytes), bytes, receipt: copyFields(fields), receiptBytes, signature }
}

/**
 * Decodes SignedReceipt bytes, accepting only the canonical encoding of a
 * well-formed receipt: every field present at its size, this version, seq ≥ 1,
 * time > 0, and re-encoding gives exactly the bytes given (no unknown,
 * repeated or reordered fields, no padded varints). Throws ProofFormatError
 * naming the problem. The signature is not checked here.
 */
export function decodeSignedReceipt (bytes: Uint8Array): SignedReceiptInfo {
  if (!(bytes instanceof Uint8Array)) throw new ProofFormatError('a signed receipt must be bytes')
  if (bytes.byteLength === 0) throw new ProofFormatError('the signed receipt is empty')
  if (bytes.byteLength > MAX_SIGNED_RECEIPT_BYTES) throw new ProofFormatError(`a signed receipt of ${bytes.byteLength} bytes is over the ${MAX_SIGNED_RECEIPT_BYTES}-byte limit`)
  // Decoded from a copy: the views returned do not alias the caller's buffer.
  const own = new Uint8Array(bytes)
  let signed: SignedReceipt
  try {
    signed = SignedReceipt.decode(own)
  } catch (err) {
    throw new ProofFormatError(`not a signed receipt: ${(err as Error).message}`)
  }
  if (signed.receipt.byteLength === 0) throw new ProofFormatError('the signed receipt holds no receipt')
  if (signed.signature.byteLength !== SIGNATURE_BYTES) throw new ProofFormatError(`the signature is ${signed.signature.byteLength} bytes, not ${SIGNATURE_BYTES}`)
  if (!Buffer.from(SignedReceipt.encode(signed)).equals(own)) throw new ProofFormatError('the signed receipt is not canonically encoded')

  let receipt: Receipt
  try {
    receipt = Receipt.decode(signed.receipt)
  } catch (err) {
    throw new ProofFormatError(`not a receipt: ${(err as Error).message}`)
  }
  if (receipt.version !== RECEIPT_VERSION) throw new ProofFormatError(`receipt version ${receipt.version}; this herd reads version ${RECEIPT_VERSION}`)
  const sized: Array<[string, Uint8Array, number]> = [
    ['modelBlobId', receipt.modelBlobId, HASH_BYTES],
    ['chunkRoot', receipt.chunkRoot, HASH_BYTES],
    ['inputsHash', receipt.inputsHash, HASH_BYTES],
    ['outputsHash', receipt.outputsHash, HASH_BYTES],
    ['nodePublicKey', receipt.nodePublicKey, PUBLIC_KEY_BYTES]
  ]
  for (const [field, value, size] of sized) {
    if (value.byteLength !== size) throw new ProofFormatError(`receipt ${field} is ${value.byteLength} bytes, not ${size}`)
  }
  if (receipt.seq < 1n) throw new ProofFormatError('receipt seq is 0; sequence numbers start at 1')
  if (receipt.time < 1n) throw new ProofFormatError('receipt time is 0')
  if (receipt.time > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProofFormatError(`receipt time ${receipt.time} is beyond any date`)
  if (!Buffer.from(Receipt.encode(receipt)).equals(signed.receipt)) throw new ProofFormatError('the receipt is not canonically encoded')

  return {
    id: receiptId(signed.receipt),
    bytes: own,
    receipt: {
      modelBlobId: blobIdFromBytes(receipt.modelBlobId),
      chunkRoot: Buffer.from(receipt.chunkRoot).toString('hex'),
      inputsHash: receipt.inputsHash,
      outputsHash: receipt.outputsHash,
      nodePublicKey: receipt.nodePublicKey,
      time: Number(receipt.time),
      seq: receipt.seq
    },
    receiptBytes: signed.receipt,
    signature: signed.signature
  }
}

/** True when the signature is the node key's Ed25519 signature of the receipt; false for any other signature. */
export async function verifyReceiptSignature (info: SignedReceiptInfo): Promise<boolean> {
  try {
    const key = new Ed25519PublicKey(info.receipt.nodePublicKey)
    return await key.verify(signingMessage(info.receiptBytes), info.signature)
  } catch {
    return false
  }
}

/** The Sui address of the key that signed the receipt: the address that must have anchored its bundle. */
export function receiptSigner (info: Pick<SignedReceiptInfo, 'receipt'>): string {
  return new Ed25519PublicKey(info.receipt.nodePublicKey).toSuiAddress()
}

/** The libp2p peer ID of the node that signed the receipt (the same key). */
export function receiptPeerId (info: Pick<SignedReceiptInfo, 'receipt'>): string {
  return peerIdFromPublicKey(publicKeyFromRaw(info.receipt.nodePublicKey)).toString()
}

/**
 * The ID and seq that SignedReceipt bytes name (the ID hashed from the
 * receipt they sign), without the checks of decodeSignedReceipt; undefined
 * when the bytes are not a SignedReceipt holding a Receipt.
 */
export function signedReceiptKey (bytes: Uint8Array): { id: string, seq: bigint } | undefined {
  try {
    const signed = SignedReceipt.decode(bytes)
    if (signed.receipt.byteLength === 0) return undefined
    return { id: receiptId(signed.receipt), seq: Receipt.decode(signed.receipt).seq }
  } catch {
    return undefined
  }
}

/** Hex SHA-256 of canonical Receipt bytes. */
export function receiptId (receiptBytes: Uint8Array): string {
  return createHash('sha256').update(receiptBytes).digest('hex')
}

function signingMessage (receiptBytes: Uint8Array): Uint8Array {
  const message = new Uint8Array(PREFIX.byteLength + receiptBytes.byteLength)
  message.set(PREFIX, 0)
  message.set(receiptBytes, PREFIX.byteLength)
  return message
}

function encodeReceipt (fields: ReceiptFields): Uint8Array {
  const sized: Array<[string, Uint8Array, number]> = [
    ['inputsHash', fields.inputsHash, HASH_BYTES],
    ['outputsHash', fields.outputsHash, HASH_BYTES],
    ['nodePublicKey', fields.nodePublicKey, PUBLIC_KEY_BYTES]
  ]
  for (const [field, value, size] of sized) {
    if (!(value instanceof Uint8Array) || value.byteLength !== size) {
      throw new InvalidReceiptError(`receipt ${field} must be ${size} bytes, got ${value instanceof Uint8Array ? value.byteLength : typeof value}`)
    }
  }
  if (typeof fields.chunkRoot !== 'string' || !/^[0-9a-fA-F]{64}$/.test(fields.chunkRoot)) throw new InvalidReceiptError('receipt chunkRoot must be 64 hex digits')
  if (!Number.isSafeInteger(fields.time) || fields.time < 1) throw new InvalidReceiptError(`receipt time must be a positive integer of milliseconds, got ${fields.time}`)
  if (typeof fields.seq !== 'bigint' || fields.seq < 1n || fields.seq > U64_MAX) throw new InvalidReceiptError(`receipt seq must be a u64 from 1, got ${String(fields.seq)}`)
  let modelBlobId: Uint8Array
  try {
    modelBlobId = blobIdToBytes(fields.modelBlobId)
  } catch (err) {
    throw new InvalidReceiptError(`receipt modelBlobId: ${(err as Error).message}`)
  }
  return Receipt.encode({
    version: RECEIPT_VERSION,
    modelBlobId: modelBlobId as Uint8Array<ArrayBuffer>,
    chunkRoot: new Uint8Array(Buffer.from(fields.chunkRoot, 'hex')),
    inputsHash: new Uint8Array(fields.inputsHash),
    outputsHash: new Uint8Array(fields.outputsHash),
    nodePublicKey: new Uint8Array(fields.nodePublicKey),
    time: BigInt(fields.time),
    seq: fields.seq
  })
}

function copyFields (fields: ReceiptFields): ReceiptFields {
  return {
    modelBlobId: fields.modelBlobId,
    chunkRoot: fields.chunkRoot.toLowerCase(),
    inputsHash: new Uint8Array(fields.inputsHash),
    outputsHash: new Uint8Array(fields.outputsHash),
    nodePublicKey: new Uint8Array(fields.nodePublicKey),
    time: fields.time,
    seq: fields.seq
  }
}
