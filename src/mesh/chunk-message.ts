import type { AbortOptions } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { encodeVarint, type FramedStream } from './length-prefixed.js'
import { MeshProtocolError } from './errors.js'
import { leaseBuffer } from './sealed-buffers.js'

/**
 * The `Chunk { uint32 index = 1; bytes data = 2 }` message of
 * /herd/blob/1.0.0, framed and read by hand: protons' encoder copies the data
 * into the message, and its decoder waits for a whole message and joins its
 * pieces into one array, a MiB each per chunk at both ends. The bytes on the
 * wire are protons' own (pb/blob-exchange.proto), so peers of either kind
 * read each other.
 */

const INDEX_TAG = (1 << 3) | 0
const DATA_TAG = (2 << 3) | 2
const WIRE_VARINT = 0
const WIRE_FIXED64 = 1
const WIRE_LENGTH_DELIMITED = 2
const WIRE_FIXED32 = 5

export interface ReceivedChunk {
  index: number
  /** The chunk's bytes, in a buffer of their own, valid until release(). */
  data: Uint8Array
  /** The bytes are no longer needed (written, or refused): a pooled buffer serves a later chunk. */
  release: () => void
}

export interface ReadChunkInit {
  /** The most data one message may carry: a peer declaring more is refused before any buffer is taken. */
  maxDataBytes: number
  /** Data of exactly this many bytes (a full chunk) lands in a pooled buffer; any other size in one of its own. */
  poolBytes?: number
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
 * Reads the next message, which must be a well-formed Chunk, copying its data
 * into one buffer piece by piece as the pieces arrive. Read whole first, a
 * message could make the client buffer up to the framing's limit (64 MiB)
 * per stream before its shape was checked; here data longer than
 * `maxDataBytes` is refused from its length alone, other fields are read
 * and dropped piece by piece, and a message costs at most one buffer of
 * `maxDataBytes` and a slice of what has arrived. The buffer returns to the
 * pool once released.
 */
export async function readChunk (pb: FramedStream, init: ReadChunkInit, options: AbortOptions): Promise<ReceivedChunk> {
  const length = await pb.readLength(options)
  let pos = 0
  const varint = async (): Promise<number> => {
    let value = 0
    for (let shift = 0; shift < 35; shift += 7) {
      if (pos >= length) throw new MeshProtocolError('a chunk message ends inside a varint')
      const byte = (await pb.readExactly(1, options)).get(0)
      pos++
      value += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) return value
    }
    throw new MeshProtocolError('a chunk message has a varint longer than 5 bytes')
  }
  const skip = async (bytes: number): Promise<void> => {
    if (pos + bytes > length) throw new MeshProtocolError('a chunk message ends inside a field')
    pos += bytes
    for (let left = bytes; left > 0;) left -= (await pb.readSome(left, options)).byteLength
  }
  let index = 0
  let data: Uint8Array | undefined
  let release = (): void => {}
  try {
    while (pos < length) {
      const tag = await varint()
      if (tag === INDEX_TAG) {
        // protons reads a uint32 as the low 32 bits.
        index = await varint() % 2 ** 32
      } else if (tag === DATA_TAG) {
        const size = await varint()
        if (pos + size > length) throw new MeshProtocolError('a chunk message ends inside a field')
        if (size > init.maxDataBytes) throw new MeshProtocolError(`a chunk message carries ${size} bytes, over the ${init.maxDataBytes} asked for`)
        if (data != null) throw new MeshProtocolError('a chunk message carries its data twice')
        const lease = size === init.poolBytes ? leaseBuffer(size) : undefined
        const into = data = lease?.bytes ?? new Uint8Array(size)
        if (lease != null) release = () => { lease.cancel() }
        pos += size
        for (let filled = 0; filled < size;) {
          for (const piece of await pb.readSome(size - filled, options)) {
            into.set(piece, filled)
            filled += piece.byteLength
          }
        }
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
  } catch (err) {
    release()
    throw err
  }
  return { index, data: data ?? new Uint8Array(0), release }
}
