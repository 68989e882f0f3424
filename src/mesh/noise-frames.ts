import { logger } from '@libp2p/logger'
import { Uint8ArrayList } from 'uint8arraylist'

const log = logger('herd:mesh:noise-frames')

/** Noise's largest frame, tag included (the spec's limit). */
const MAX_FRAME_BYTES = 65535
const TAG_BYTES = 16

/** A received Noise frame too short to hold its tag. */
export class NoiseFrameError extends Error {
  override readonly name = 'NoiseFrameError'
}

/** What noise's connection keeps (private in TypeScript, plain fields at run time). */
interface NoiseConnection {
  handshake?: { decrypt: (ciphertext: Uint8Array | Uint8ArrayList, dst?: Uint8Array) => Uint8Array | Uint8ArrayList }
  metrics?: { decryptedPackets: { increment: () => void }, decryptErrors: { increment: () => void } }
  decrypt?: (chunk: Uint8Array | Uint8ArrayList) => Uint8ArrayList
}

const opened = new WeakSet<object>()
let warned = false

/**
 * Noise (`@chainsafe/libp2p-noise` 17) opens each received frame with a
 * `dst`, `chunk.subarray(...)`, for its wasm cipher to write the plaintext
 * over: when the frame came in two TCP reads (almost every 64 KiB frame does)
 * that joins the pieces into a fresh 64 KiB array, a copy per frame that
 * herd's node:crypto cipher never reads, and garbage that sets off a full
 * collection every few dozen MiB. This opens frames as noise does, without
 * the dst (the wasm cipher then allocates its own output, for small frames
 * only). Applied to one secured connection; a noise release of another shape
 * is left as it is.
 */
export function decryptFramesWithoutCopy (connection: unknown): void {
  const noise = connection as NoiseConnection
  const handshake = noise.handshake
  if (handshake == null || typeof handshake.decrypt !== 'function' || typeof noise.decrypt !== 'function') {
    if (!warned) {
      warned = true
      log.error('noise\'s connection has no decrypt where herd looks for it: frames are opened as noise does')
    }
    return
  }
  opened.add(noise)
  noise.decrypt = (chunk: Uint8Array | Uint8ArrayList): Uint8ArrayList => {
    const output = new Uint8ArrayList()
    for (let i = 0; i < chunk.byteLength; i += MAX_FRAME_BYTES) {
      const end = Math.min(i + MAX_FRAME_BYTES, chunk.byteLength)
      if (end - TAG_BYTES < i) throw new NoiseFrameError(`a noise frame of ${end - i} bytes cannot hold its ${TAG_BYTES}-byte tag`)
      const encrypted = chunk instanceof Uint8Array ? chunk.subarray(i, end) : chunk.sublist(i, end)
      try {
        output.append(handshake.decrypt(encrypted))
        noise.metrics?.decryptedPackets.increment()
      } catch (err) {
        noise.metrics?.decryptErrors.increment()
        throw err
      }
    }
    return output
  }
}

export function opensFramesWithoutCopy (connection: unknown): boolean {
  return opened.has(connection as object)
}
