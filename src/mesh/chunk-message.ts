import type { AbortOptions } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { encodeVarint, type FramedStream } from './length-prefixed.js'
import { MeshProtocolError } from './errors.js'

/**
 * The `Chunk { uint32 index = 1; bytes data = 2 }` message of
 * /herd/blob/1.0.0, framed and read by hand: protons' encoder copies the data
 * into the message and its decoder joins a message that arrived in pieces
 * into one fresh array, a MiB of garbage each per chunk at both ends. Here
 * the sender's data is not copied, and the receiver's is copied once, into a
 * buffer it reuses. The bytes on the wire are protons' own (pb/blob-exchange.proto),
 * so peers of either kind read each other.
 */

const INDEX_TAG = (1 << 3) | 0
const DATA_TAG = (2 << 3) | 2
const WIRE_VARINT = 0
const WIRE_FIXED64 = 1
const WIRE_LENGTH_DELIMITED = 2
const WIRE_FIXED32 = 5

export interface ChunkMessage {
  index: number
  /** The chunk's bytes, in the buffer `into` gave. */
  data: Uint8Array
}

/** Bytes taken from the stream at a time while a chunk's data is copied out: what yamux carries in about one frame. */
const COPY_STEP = 64 * 1024

/** Where a chunk's data goes, and how much may come. */
export interface ChunkDestination {
  /** A chunk longer than this is refused before any of its bytes are taken. */
  maxBytes: number
  /** A buffer of at least `length` bytes to copy the data into. */
  into: (length: number) => Uint8Array
}
/** The message, ready for the framing: a few bytes of header, then `data` itself. */
export function encodeChunk (index: number, data: Uint8Array): Uint8ArrayList {
  // protons leaves out fields at their default: a zero index, empty data.
  const fields = [
    ...(index !== 0 ? [Uint8Array.of(INDEX_TAG), encodeVarint(index)] : []),
    ...(data.byteLength > 0 ? [Uint8Array.of(DATA_TAG), encodeVarint(data.byteLength)] : [])
  ]
  return new Uint8ArrayList(...fields, data)
}

/**
 * Reads the next message off the stream: its length prefix, then its fields
 * as they come, the data copied into `destination.into(length)` a frame or so
 * at a time. The pieces that arrived are let go at once, not held until
 * the whole chunk is in: held for the MiB a chunk takes to arrive, and for
 * its hash and disk write after, they lived through collections of the
 * young generation and were promoted, and only full collections freed
 * them (a downloader ran about twice the full collections of a raw libp2p
 * receiver). Refuses anything that is not a well-formed Chunk, and a chunk
 * with its data twice (protons would keep the last; no herd peer sends two).
 */
export async function readChunk (stream: Pick<FramedStream, 'readLength' | 'readBytes'>, destination: ChunkDestination, options?: AbortOptions): Promise<ChunkMessage> {
  const bodyBytes = await stream.readLength(options)
  let pos = 0
  const byte = async (): Promise<number> => {
    if (pos >= bodyBytes) throw new MeshProtocolError('a chunk message ends inside a varint')
    pos++
    return (await stream.readBytes(1, options)).get(0)
  }
  const varint = async (): Promise<number> => {
    let value = 0
    for (let shift = 0; shift < 35; shift += 7) {
      const next = await byte()
      value += (next & 0x7f) * 2 ** shift
      if ((next & 0x80) === 0) return value
    }
    throw new MeshProtocolError('a chunk message has a varint longer than 5 bytes')
  }
  const claim = (bytes: number): void => {
    if (pos + bytes > bodyBytes) throw new MeshProtocolError('a chunk message ends inside a field')
    pos += bytes
  }
  const skip = async (bytes: number): Promise<void> => {
    claim(bytes)
    if (bytes > 0) await stream.readBytes(bytes, options)
  }
  let index = 0
  let data: Uint8Array | undefined
  while (pos < bodyBytes) {
    const tag = await varint()
    if (tag === INDEX_TAG) {
      // protons reads a uint32 as the low 32 bits.
      index = (await varint()) % 2 ** 32
    } else if (tag === DATA_TAG) {
      if (data != null) throw new MeshProtocolError('a chunk message carries its data twice')
      const length = await varint()
      if (length > destination.maxBytes) throw new MeshProtocolError(`a chunk message carries ${length} bytes, over the ${destination.maxBytes} a chunk of this blob may hold`)
      claim(length)
      const target = destination.into(length)
      let copied = 0
      while (copied < length) {
        for (const piece of await stream.readBytes(Math.min(COPY_STEP, length - copied), options)) {
          target.set(piece, copied)
          copied += piece.byteLength
        }
      }
      data = target.subarray(0, length)
    } else {
      // An unknown field is skipped, as protons does; a wire type it cannot skip ends the read.
      switch (tag & 7) {
        case WIRE_VARINT: await varint(); break
        case WIRE_FIXED64: await skip(8); break
        case WIRE_LENGTH_DELIMITED: await skip(await varint()); break
        case WIRE_FIXED32: await skip(4); break
        default: throw new MeshProtocolError(`a chunk message has a field of wire type ${tag & 7}`)
      }
    }
  }
  return { index, data: data ?? new Uint8Array(0) }
}
