import { createPublicKey, verify, type KeyObject } from 'node:crypto'
import { blake2b } from '@noble/hashes/blake2.js'
import { bcs } from '@mysten/sui/bcs'
import { messageWithIntent } from '@mysten/sui/cryptography'
import { Ed25519PublicKey, type Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { signEd25519 } from './ed25519-signer.js'

const ED25519_FLAG = 0x00
const SIGNATURE_BYTES = 64
const PUBLIC_KEY_BYTES = 32
/** DER SubjectPublicKeyInfo of an Ed25519 key, before its 32 raw bytes (RFC 8410). */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
/** Signers are few (the nodes of a mesh): their keys are parsed once. */
const MAX_KEYS = 1024

const keys = new Map<string, { key: KeyObject, address: string }>()

function keyOf (publicKey: Uint8Array): { key: KeyObject, address: string } {
  const id = Buffer.from(publicKey).toString('hex')
  let known = keys.get(id)
  if (known == null) {
    if (keys.size >= MAX_KEYS) keys.clear()
    known = {
      key: createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' }),
      address: new Ed25519PublicKey(publicKey).toSuiAddress()
    }
    keys.set(id, known)
  }
  return known
}

/** The digest a Sui personal-message signature signs: BLAKE2b-256 of the intent and the BCS bytes of the message. */
function personalMessageDigest (message: Uint8Array): Uint8Array {
  return blake2b(messageWithIntent('PersonalMessage', bcs.vector(bcs.u8()).serialize(message).toBytes()), { dkLen: 32 })
}

/**
 * A Sui personal-message signature of `message` (flag, signature, public
 * key), the bytes `signPersonalMessage` gives, signed with Node's Ed25519:
 * the SDK's JavaScript signer took about 2 ms a ledger transaction, on the
 * event loop of a node sealing its receipts.
 */
export function signEd25519PersonalMessage (keypair: Ed25519Keypair, message: Uint8Array): Uint8Array {
  const signature = signEd25519(keypair, personalMessageDigest(message))
  const publicKey = keypair.getPublicKey().toRawBytes()
  const serialized = new Uint8Array(1 + SIGNATURE_BYTES + PUBLIC_KEY_BYTES)
  serialized[0] = ED25519_FLAG
  serialized.set(signature, 1)
  serialized.set(publicKey, 1 + SIGNATURE_BYTES)
  return serialized
}

/**
 * Checks a Sui personal-message signature by an Ed25519 key and returns the
 * signer's address, as `verifyPersonalMessageSignature` does, but with
 * Node's Ed25519 (OpenSSL) instead of the SDK's JavaScript one: a cold ledger
 * read checks one signature per entry, and this is about fifty times faster.
 * Throws an Error saying what failed.
 */
export function verifyEd25519PersonalMessage (message: Uint8Array, serializedSignature: Uint8Array): string {
  if (serializedSignature.length !== 1 + SIGNATURE_BYTES + PUBLIC_KEY_BYTES) throw new Error(`an Ed25519 signature is ${1 + SIGNATURE_BYTES + PUBLIC_KEY_BYTES} bytes, not ${serializedSignature.length}`)
  if (serializedSignature[0] !== ED25519_FLAG) throw new Error('only Ed25519 signatures (flag 0x00) are accepted')
  const signature = serializedSignature.subarray(1, 1 + SIGNATURE_BYTES)
  const publicKey = serializedSignature.subarray(1 + SIGNATURE_BYTES)
  const digest = personalMessageDigest(message)
  const { key, address } = keyOf(publicKey)
  if (!verify(null, digest, key, signature)) throw new Error('the signature does not match the message and key')
  return address
}
