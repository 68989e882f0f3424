import { noise, type NoiseInit } from '@chainsafe/libp2p-noise'
import { logger } from '@libp2p/logger'
import { corkSends } from './corked-socket.js'
import { decryptFramesWithoutCopy, opensFramesWithoutCopy } from './noise-frames.js'

const log = logger('herd:mesh:noise')

type NoiseFactory = ReturnType<typeof noise>
type Encrypter = ReturnType<NoiseFactory>

/** What noise's secured connection keeps: its frame decoder and, on it, the function that reads a frame's length prefix. */
interface FramedConnection { decoder?: { lengthDecoder?: unknown } }

/**
 * A frame's 2-byte length, as noise's uint16BEDecode reads it, but without
 * throwing when fewer than 2 bytes are buffered. Noise's decoder ends every
 * received chunk by calling its length decoder on what is left (usually
 * nothing) and catching the RangeError it throws: an Error with its stack
 * built for every TCP read, about 4% of a node's CPU serving small inference
 * requests (docs/upstream/libp2p-noise-length-exception.md). A length of 0
 * with fewer than 2 bytes makes the decoder wait for more just the same: it
 * needs 2 + 0 bytes and has fewer.
 */
function frameLength (data: { length: number, get?: (i: number) => number, [i: number]: number }): number {
  if (data.length < 2) return 0
  if (data instanceof Uint8Array) return (data[0] as number) << 8 | (data[1] as number)
  return (data.get?.(0) as number) << 8 | (data.get?.(1) as number)
}

let warned = false

function tuned<T extends { connection: unknown }> (secured: T, transport: unknown): T {
  const decoder = (secured.connection as FramedConnection).decoder
  if (decoder != null && typeof decoder.lengthDecoder === 'function') {
    decoder.lengthDecoder = frameLength
  } else if (!warned) {
    // A noise release that no longer has this shape: it works as noise wrote it, only slower.
    warned = true
    log.error('noise\'s connection has no frame decoder where herd looks for it: its length decoder is left as it is')
  }
  decryptFramesWithoutCopy(secured.connection)
  corkSends(transport)
  return secured
}

/**
 * @chainsafe/libp2p-noise with its frame length read without an exception per
 * TCP read, received frames opened without a copy (noise-frames.ts), and the
 * pieces of each send written to the TCP socket in one writev
 * (corked-socket.ts); the wire format is noise's.
 */
export function herdNoise (init: NoiseInit = {}): NoiseFactory {
  const factory = noise(init)
  return (components): Encrypter => {
    const encrypter = factory(components)
    const secureInbound = encrypter.secureInbound.bind(encrypter)
    const secureOutbound = encrypter.secureOutbound.bind(encrypter)
    encrypter.secureInbound = (async (...args: Parameters<Encrypter['secureInbound']>) => tuned(await secureInbound(...args), args[0])) as Encrypter['secureInbound']
    encrypter.secureOutbound = (async (...args: Parameters<Encrypter['secureOutbound']>) => tuned(await secureOutbound(...args), args[0])) as Encrypter['secureOutbound']
    return encrypter
  }
}

/** Whether a secured connection reads its frame lengths and opens its frames herd's way (for the test that guards against a noise upgrade). */
export function readsFrameLengthWithoutThrowing (connection: unknown): boolean {
  return (connection as FramedConnection).decoder?.lengthDecoder === frameLength && opensFramesWithoutCopy(connection)
}
