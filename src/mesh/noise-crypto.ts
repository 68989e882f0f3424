import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto'
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { Uint8ArrayList } from 'uint8arraylist'
import { sealed as noteSealed } from './sealed-buffers.js'

/**
 * Noise's crypto with one change: ChaCha20-Poly1305 gets each session key as
 * a node:crypto KeyObject made once, not as raw bytes. Given bytes, every
 * createCipheriv asks isKeyObject and isCryptoKey, and each answers "no" by
 * throwing and catching an exception: two exceptions per 64 KiB frame, 6-9%
 * of the CPU of a transfer (docs/upstream/libp2p-noise-key-object.md).
 * Everything else, the wire format included, is @chainsafe/libp2p-noise's
 * default: peers with either crypto interoperate.
 */

const CHACHA20_POLY1305 = 'chacha20-poly1305'
const TAG_BYTES = 16
/**
 * Below this the default's wasm cipher is quicker than a node:crypto one
 * given a KeyObject. noise's default switches at 1,200 bytes, measured
 * against node:crypto given raw key bytes (two exceptions a cipher, above);
 * with the KeyObject the two meet near 500 bytes here, and at 1,000 bytes
 * node:crypto seals in 4.5 µs against the wasm's 8-9 (a frame opens in 4.5
 * against 7.3-7.6).
 */
export const SMALL_MESSAGE_BYTES = 512

/** noise's own uint8arraylist, a release apart from herd's: the same at run time (both mark lists with one Symbol.for), not to the type checker. */
type Bytes = Parameters<ICryptoInterface['chaCha20Poly1305Encrypt']>[0]
type Output = ReturnType<ICryptoInterface['chaCha20Poly1305Decrypt']>

interface CachedKey { bytes: Buffer, key: KeyObject }

/**
 * One KeyObject per key array: noise keeps a session's key in one
 * Uint8Array, so the array is the cache key; its bytes are compared too,
 * so an array written over in place never meets a stale KeyObject.
 */
const keys = new WeakMap<Uint8Array, CachedKey>()

function keyObject (k: Uint8Array): KeyObject {
  const bytes = Buffer.from(k.buffer, k.byteOffset, k.byteLength)
  const cached = keys.get(k)
  if (cached?.bytes.equals(bytes) === true) return cached.key
  const entry = { bytes: Buffer.from(bytes), key: createSecretKey(bytes) }
  keys.set(k, entry)
  return entry.key
}

/** The plaintext is read and no longer needed: a chunk buffer lent to the stream may come back (sealed-buffers.ts). */
function release (plaintext: Bytes): void {
  if (plaintext instanceof Uint8Array) noteSealed(plaintext)
  else for (const buf of plaintext) noteSealed(buf)
}

function encrypt (plaintext: Bytes, nonce: Uint8Array, ad: Uint8Array, k: Uint8Array): Output {
  if (plaintext.byteLength < SMALL_MESSAGE_BYTES) {
    const small = defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
    release(plaintext)
    return small
  }
  const cipher = createCipheriv(CHACHA20_POLY1305, keyObject(k), nonce, { authTagLength: TAG_BYTES })
  cipher.setAAD(ad, { plaintextLength: plaintext.byteLength })
  const sealed = new Uint8ArrayList()
  if (plaintext instanceof Uint8Array) sealed.append(cipher.update(plaintext))
  else for (const buf of plaintext) sealed.append(cipher.update(buf))
  release(plaintext)
  const final = cipher.final()
  if (final.byteLength > 0) sealed.append(final)
  sealed.append(cipher.getAuthTag())
  // Not joined: a copy of every frame saved; the TCP connection writes a send's pieces in one writev (corked-socket.ts).
  return sealed as unknown as Output
}

function decrypt (ciphertext: Bytes, nonce: Uint8Array, ad: Uint8Array, k: Uint8Array, dst?: Uint8Array): Output {
  if (ciphertext.byteLength < SMALL_MESSAGE_BYTES) return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst)
  const textBytes = ciphertext.byteLength - TAG_BYTES
  const decipher = createDecipheriv(CHACHA20_POLY1305, keyObject(k), nonce, { authTagLength: TAG_BYTES })
  decipher.setAAD(ad, { plaintextLength: textBytes })
  decipher.setAuthTag(ciphertext.subarray(textBytes))
  if (ciphertext instanceof Uint8Array) {
    const text = decipher.update(ciphertext.subarray(0, textBytes))
    // final() checks the tag: it throws on a forged or damaged frame.
    const final = decipher.final()
    return final.byteLength === 0 ? text : Buffer.concat([text, final])
  }
  const output = new Uint8ArrayList()
  for (const buf of ciphertext.sublist(0, textBytes)) output.append(decipher.update(buf))
  const final = decipher.final()
  if (final.byteLength > 0) output.append(final)
  return output as unknown as Output
}

export const herdNoiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt: encrypt,
  chaCha20Poly1305Decrypt: decrypt
}
