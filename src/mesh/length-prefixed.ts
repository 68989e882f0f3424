import type { AbortOptions, MessageStream } from '@libp2p/interface'
import { byteStream } from '@libp2p/utils'
import type { DecodeOptions } from 'protons-runtime'
import { encode, encodingLength } from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'

/**
 * Framing for herd's own stream protocols: an unsigned varint length, then
 * that many bytes (a protobuf message). The wire format is lpStream's; the
 * reader is not: lpStream re-decodes a varint that does not end on every new
 * byte and checks its length only after one decodes, so a stream of 0xff
 * bytes held the event loop for seconds (docs/upstream/libp2p-utils-lpstream.md).
 * Here the varint is decoded as its bytes come and refused at the first byte
 * past what `maxDataLength` needs, and a length over `maxDataLength` is refused
 * before any of the body is read.
 */

/** The length prefix runs on past the bytes the largest allowed length needs. */
export class LengthPrefixTooLongError extends Error {
  override readonly name = 'LengthPrefixTooLongError'
}

/** The length prefix declares a message larger than the reader allows. */
export class MessageTooLargeError extends Error {
  override readonly name = 'MessageTooLargeError'
}

export interface FramedStreamInit {
  /** The largest message body read, in bytes. */
  maxDataLength: number
  /** Unread bytes held at most (byteStream's default, 4 MiB, unless given): must hold a whole message. */
  maxBufferSize?: number
}

export interface FramedStream {
  /**
   * The next message's body; refuses a hostile prefix with a named error, leaving the stream to the caller to abort.
   * `maxDataLength` here bounds this message below the stream's own limit (a chunk against the blob's chunk size).
   */
  read: (options?: AbortOptions & { maxDataLength?: number }) => Promise<Uint8ArrayList>
  /** Writes one message; with `pace`, in slices of `pace.sliceBytes`, each sent once `pace.take` lets it go. */
  write: (body: Uint8Array | Uint8ArrayList, options?: AbortOptions & { pace?: WritePace }) => Promise<void>
  readMessage: <T>(codec: { decode: (data: Uint8ArrayList, options?: DecodeOptions<T>) => T }, options?: AbortOptions & DecodeOptions<T>) => Promise<T>
  writeMessage: <T>(message: T, codec: { encode: (message: T) => Uint8Array }, options?: AbortOptions) => Promise<void>
}

/** What holds a write to a byte rate (UploadPace). */
export interface WritePace {
  sliceBytes: number
  take: (bytes: number, options?: AbortOptions) => Promise<void>
}

const CONTINUES = 0x80
const VALUE_BITS = 0x7f

export function encodeVarint (value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`cannot encode ${value} as an unsigned varint`)
  return encode(value)
}

export function framedStream (stream: MessageStream, init: FramedStreamInit): FramedStream {
  const { maxDataLength } = init
  if (!Number.isSafeInteger(maxDataLength) || maxDataLength < 0) throw new RangeError(`maxDataLength must be a non-negative integer, not ${maxDataLength}`)
  const maxLengthLength = encodingLength(maxDataLength)
  const bytes = byteStream(stream, init.maxBufferSize != null ? { maxBufferSize: init.maxBufferSize } : {})

  const read = async (options: AbortOptions & { maxDataLength?: number } = {}): Promise<Uint8ArrayList> => {
    const { maxDataLength: limit = maxDataLength, ...abort } = options
    if (!Number.isSafeInteger(limit) || limit < 0 || limit > maxDataLength) throw new RangeError(`a read's maxDataLength must be an integer from 0 to ${maxDataLength}, not ${limit}`)
    const limitLength = limit === maxDataLength ? maxLengthLength : encodingLength(limit)
    let length = 0
    for (let i = 0; ; i++) {
      if (i === limitLength) throw new LengthPrefixTooLongError(`the length prefix runs past ${limitLength} bytes, the most a length of ${limit} needs`)
      const byte = (await bytes.read({ ...abort, bytes: 1 })).get(0)
      length += (byte & VALUE_BITS) * 2 ** (7 * i)
      if ((byte & CONTINUES) === 0) break
    }
    if (length > limit) throw new MessageTooLargeError(`the message declares ${length} bytes, over the ${limit}-byte limit`)
    return bytes.read({ ...abort, bytes: length })
  }

  const write = async (body: Uint8Array | Uint8ArrayList, options: AbortOptions & { pace?: WritePace } = {}): Promise<void> => {
    const { pace, ...abort } = options
    // Without copying the body (a chunk may be many MiB): one send, or views of it in slices.
    const framed = new Uint8ArrayList(encodeVarint(body.byteLength), body)
    if (pace == null) {
      await bytes.write(framed, abort)
      return
    }
    for (let start = 0; start < framed.byteLength; start += pace.sliceBytes) {
      const slice = framed.sublist(start, Math.min(framed.byteLength, start + pace.sliceBytes))
      await pace.take(slice.byteLength, abort)
      await bytes.write(slice, abort)
    }
  }

  return {
    read,
    write,
    readMessage: async (codec, options) => codec.decode(await read(options), options),
    writeMessage: async (message, codec, options) => { await write(codec.encode(message), options) }
  }
}
