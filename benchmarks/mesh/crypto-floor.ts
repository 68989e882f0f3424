// What the bytes of a peer fetch cost in node:crypto alone: ChaCha20-Poly1305 in Noise-sized frames each way, and SHA-256 of the chunks.
import { createCipheriv, createDecipheriv, createHash, createSecretKey, randomBytes } from 'node:crypto'

const GiB = 1024 * 1024 * 1024
/** Noise's largest frame (65535 bytes with its tag), as a bulk transfer sends them. */
const FRAME_PLAINTEXT_BYTES = 65535 - 16
const CHUNK_BYTES = 1024 * 1024

export interface CryptoFloor {
  /** CPU seconds per GiB: sealing every frame (the sender), opening every frame (the receiver), hashing every chunk (the receiver). */
  encrypt: number
  decrypt: number
  sha256: number
}

function cpuSeconds (): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1e6
}

/** Measured over `bytes` of random data in this process; each figure scaled to CPU seconds per GiB. */
export function cryptoFloor (bytes: number): CryptoFloor {
  const key = createSecretKey(randomBytes(32))
  const nonce = Buffer.alloc(12)
  const frame = randomBytes(FRAME_PLAINTEXT_BYTES)
  const frames = Math.ceil(bytes / FRAME_PLAINTEXT_BYTES)
  const sealed: Buffer[] = []
  const perGiB = (seconds: number): number => seconds * GiB / bytes

  let started = cpuSeconds()
  // A fixed nonce is fine for a measurement: nothing here is secret.
  for (let i = 0; i < frames; i++) {
    const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
    const text = cipher.update(frame)
    cipher.final()
    // Only a few frames are kept to open: holding a GiB of them would measure the allocator instead.
    if (i < 16) sealed.push(Buffer.concat([text, cipher.getAuthTag()]))
  }
  const encrypt = perGiB(cpuSeconds() - started)

  started = cpuSeconds()
  for (let i = 0; i < frames; i++) {
    const box = sealed[i % sealed.length] as Buffer
    const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
    decipher.setAuthTag(box.subarray(FRAME_PLAINTEXT_BYTES))
    decipher.update(box.subarray(0, FRAME_PLAINTEXT_BYTES))
    decipher.final()
  }
  const decrypt = perGiB(cpuSeconds() - started)

  const chunk = randomBytes(CHUNK_BYTES)
  started = cpuSeconds()
  for (let done = 0; done < bytes; done += CHUNK_BYTES) createHash('sha256').update(chunk).digest()
  const sha256 = perGiB(cpuSeconds() - started)

  return { encrypt, decrypt, sha256 }
}
