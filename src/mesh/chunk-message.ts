import { Uint8ArrayList } from 'uint8arraylist'
import { encodeVarint } from './length-prefixed.js'
import { MeshProtocolError } from './errors.js'

/**
 * The `Chunk { uint32 index = 1; bytes data = 2 }` message of
 * /herd/blob/1.0.0, framed and read by hand so that a chunk's bytes are never
 * copied: protons' encoder copies the data into the message and its decoder
 * joins a message that arrived in pieces into one array, a MiB each per chunk
 * at both ends. The bytes on the wire are protons' own (pb/blob-exchange.proto),
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
  /** The chunk's bytes as they arrived, in one or more pieces. */
  data: Uint8ArrayList
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

/** Reads a message body (without its length prefix); refuses anything that is not a well-formed Chunk. */
export function decodeChunk (body: Uint8ArrayList): ChunkMessage {
  let pos = 0
  const varint = (): number => {
    let value = 0
    for (let shift = 0; shift < 35; shift += 7) {
      if (pos >= body.byteLength) throw new MeshProtocolError('a chunk message ends inside a varint')
      const byte = body.get(pos++)
      value += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) return value
    }
    throw new MeshProtocolError('a chunk message has a varint longer than 5 bytes')
  }
  const skip = (bytes: number): void => {
    if (pos + bytes > body.byteLength) throw new MeshProtocolError('a chunk message ends inside a field')
    pos += bytes
  }
  let index = 0
  let data = new Uint8ArrayList()
  while (pos < body.byteLength) {
    const tag = varint()
    if (tag === INDEX_TAG) {
      // protons reads a uint32 as the low 32 bits.
      index = varint() % 2 ** 32
    } else if (tag === DATA_TAG) {
      const length = varint()
      const start = pos
      skip(length)
      data = body.sublist(start, pos)
    } else {
      // An unknown field is skipped, as protons does; a wire type it cannot skip ends the read.
      switch (tag & 7) {
        case WIRE_VARINT: varint(); break
        case WIRE_FIXED64: skip(8); break
        case WIRE_LENGTH_DELIMITED: skip(varint()); break
        case WIRE_FIXED32: skip(4); break
        default: throw new MeshProtocolError(`a chunk message has a field of wire type ${tag & 7}`)
      }
    }
  }
  return { index, data }
}
