import { logger } from '@libp2p/logger'
import { encodingLength } from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import { LengthPrefixTooLongError, MessageTooLargeError } from './length-prefixed.js'

/**
 * libp2p reads multistream-select (on every raw connection, every encrypted
 * connection and every stream), identify and kad-dht with `@libp2p/utils`'
 * lpStream, whose length prefix never ends (docs/upstream/libp2p-utils-lpstream.md):
 * 1 MiB of 0xff held the whole node for 14 s on /herd/kad/1.0.0, and for
 * 2.5 s from a TCP client that never got past the first negotiation. herd's
 * own protocols have their own reader; these cannot be changed from outside
 * the dependency, so the bytes are checked before lpStream sees them: the
 * guard follows the length-prefixed frames of the negotiation, and of the
 * protocol negotiated when lpStream goes on reading it, and aborts the stream
 * at the first byte of a prefix longer than its limit needs.
 */

const log = logger('herd:mesh:prefix-guard')

const MULTISTREAM_PROTOCOL = '/multistream/1.0.0'
/** multistream-select's own limit on a negotiation message (its MAX_PROTOCOL_LENGTH). */
const MAX_NEGOTIATION_MESSAGE_BYTES = 1024

/**
 * What follows the negotiation of a protocol: frames of at most this many
 * bytes read by lpStream, or `'own'` when the protocol's reader bounds its own
 * input (herd's framing, gossipsub's, ping's fixed size, Noise, yamux) and
 * the guard steps aside. Undefined for a protocol this side does not speak:
 * it is refused and the negotiation goes on.
 */
export type Framing = { lengthPrefixed: number } | 'own'
export type FramingOf = (protocol: string) => Framing | undefined

/** The part of libp2p 3's AbstractMessageStream the guard needs: every byte from the network passes through `onData`. */
export interface GuardableStream {
  onData: (data: Uint8Array | Uint8ArrayList) => void
  abort: (err: Error) => void
}

/** Where a stream's bytes are in the frames the guard follows. */
class FrameScanner {
  private limit = MAX_NEGOTIATION_MESSAGE_BYTES
  private negotiating = true
  private prefixBytes = 0
  private length = 0
  /** Body bytes of the current frame still to come; -1 while its prefix is read. */
  private remaining = -1
  /** The current negotiation message, to learn the protocol it names. */
  private message = new Uint8ArrayList()
  private readonly framingOf: FramingOf
  done = false

  constructor (framingOf: FramingOf) {
    this.framingOf = framingOf
  }

  /** Follows `bytes`; a named error at the first byte past a limit. */
  scan (bytes: Uint8Array): Error | undefined {
    let at = 0
    while (at < bytes.byteLength && !this.done) {
      if (this.remaining < 0) {
        const byte = bytes[at++] as number
        if (this.prefixBytes === encodingLength(this.limit)) {
          return new LengthPrefixTooLongError(`a length prefix runs past ${this.prefixBytes} bytes, the most a length of ${this.limit} needs`)
        }
        this.length += (byte & 0x7f) * 2 ** (7 * this.prefixBytes++)
        if (byte >= 0x80) continue
        if (this.length > this.limit) return new MessageTooLargeError(`a message declares ${this.length} bytes, over the ${this.limit}-byte limit`)
        this.remaining = this.length
      }
      const take = Math.min(this.remaining, bytes.byteLength - at)
      if (this.negotiating) this.message.append(bytes.subarray(at, at + take))
      at += take
      this.remaining -= take
      if (this.remaining === 0) this.endFrame()
    }
    return undefined
  }

  /** Goes on with the frames of `protocol`; false when this side does not speak it. */
  negotiated (protocol: string): boolean {
    const framing = this.framingOf(protocol)
    if (framing == null) return false
    if (framing === 'own') this.done = true
    else {
      this.negotiating = false
      this.limit = framing.lengthPrefixed
    }
    return true
  }

  private endFrame (): void {
    this.remaining = -1
    this.prefixBytes = 0
    this.length = 0
    if (!this.negotiating) return
    const text = new TextDecoder().decode(this.message.subarray())
    this.message = new Uint8ArrayList()
    const protocol = text.endsWith('\n') ? text.slice(0, -1) : text
    if (protocol !== MULTISTREAM_PROTOCOL) this.negotiated(protocol)
  }
}

export interface GuardOptions {
  /** What the stream is, for the log. */
  what?: string
  /** A protocol agreed without multistream-select (a muxer that carries it in its own frames): its frames from the first byte. */
  protocol?: string
}

/**
 * Checks every byte `stream` receives from now on (and any it holds unread)
 * against the frames of a multistream-select negotiation and then of the
 * protocol negotiated; aborts the stream with LengthPrefixTooLongError or
 * MessageTooLargeError at the first byte past a limit, before any reader sees
 * it. False when the stream is not one whose bytes can be followed.
 */
export function guardLengthPrefixes (stream: object, framingOf: FramingOf, options: GuardOptions = {}): boolean {
  const guarded = stream as Partial<GuardableStream> & { readBuffer?: unknown }
  const { onData, abort } = guarded
  if (typeof onData !== 'function' || typeof abort !== 'function') return false
  const scanner = new FrameScanner(framingOf)
  if (options.protocol != null && options.protocol !== '') scanner.negotiated(options.protocol)
  if (scanner.done) return true
  let failed = false

  const check = (data: Uint8Array | Uint8ArrayList): boolean => {
    for (const bytes of data instanceof Uint8Array ? [data] : data) {
      const err = scanner.scan(bytes)
      if (err != null) {
        failed = true
        log('aborting %s: %s', options.what ?? 'a stream', err.message)
        abort.call(stream, err)
        return false
      }
      if (scanner.done) break
    }
    return true
  }

  // Bytes that came before the guard (an encrypted connection's first ones) wait unread in its buffer.
  if (guarded.readBuffer instanceof Uint8ArrayList && guarded.readBuffer.byteLength > 0 && !check(guarded.readBuffer)) return true
  if (scanner.done) return true
  guarded.onData = function (data: Uint8Array | Uint8ArrayList): void {
    if (failed) return
    if (!check(data)) return
    // Past the negotiation of a protocol that bounds its own input, the stream is left as it was.
    if (scanner.done) guarded.onData = onData
    onData.call(stream, data)
  }
  return true
}
