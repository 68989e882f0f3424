import { createPrivateKey, sign, type KeyObject } from 'node:crypto'
import { decodeSuiPrivateKey } from '@mysten/sui/cryptography'
import type { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'

/** PKCS#8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

const keys = new WeakMap<Ed25519Keypair, KeyObject>()

/**
 * Plain Ed25519 over `message` with the keypair's key, through OpenSSL: about
 * 36 µs against 0.5 ms for `@mysten/sui`'s pure-JS signer, and the same bytes
 * (Ed25519 signatures are deterministic).
 */
export function signEd25519 (keypair: Ed25519Keypair, message: Uint8Array): Uint8Array {
  let key = keys.get(keypair)
  if (key == null) {
    const seed = decodeSuiPrivateKey(keypair.getSecretKey()).secretKey
    key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' })
    keys.set(keypair, key)
  }
  return new Uint8Array(sign(null, message, key))
}
