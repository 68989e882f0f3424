// Streams that break herd's protocols on purpose, as a hostile peer would send them; for the abuse tests and benchmark.
import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { PeerId, Stream } from '@libp2p/interface'
import { INFER_PROTOCOL, MAX_INBOUND_INFER_STREAMS, MAX_INFER_REQUEST_BYTES } from '../src/inference/infer-protocol.js'
import { BLOB_PROTOCOL, KAD_MAX_INBOUND_STREAMS, KAD_MAX_MESSAGE_BYTES, KAD_PROTOCOL, MAX_BLOB_REQUEST_BYTES, MAX_INBOUND_BLOB_STREAMS } from '../src/mesh/constants.js'
import { encodeVarint } from '../src/mesh/length-prefixed.js'
import type { MeshLibp2p } from '../src/mesh/libp2p.js'

/** herd's own two, and the DHT's, which libp2p reads with lpStream (src/mesh/prefix-guard.ts). */
export const HOSTILE_PROTOCOLS = [BLOB_PROTOCOL, INFER_PROTOCOL, KAD_PROTOCOL] as const
export type HostileProtocol = typeof HOSTILE_PROTOCOLS[number]

const LIMITS: Record<HostileProtocol, { maxRequestBytes: number, maxInboundStreams: number }> = {
  [BLOB_PROTOCOL]: { maxRequestBytes: MAX_BLOB_REQUEST_BYTES, maxInboundStreams: MAX_INBOUND_BLOB_STREAMS },
  [INFER_PROTOCOL]: { maxRequestBytes: MAX_INFER_REQUEST_BYTES, maxInboundStreams: MAX_INBOUND_INFER_STREAMS },
  [KAD_PROTOCOL]: { maxRequestBytes: KAD_MAX_MESSAGE_BYTES, maxInboundStreams: KAD_MAX_INBOUND_STREAMS }
}

export interface HostileOutcome {
  /** How the server ended the stream: reset it, closed its side (perhaps after a reply), refused to open it, or not within the wait. */
  ended: 'reset' | 'closed' | 'refused' | 'open'
  /** The error the stream closed with on our side, by name. */
  error?: string
  /** From the stream's opening to its end; null if it did not end within the wait. */
  afterMs: number | null
  /** Bytes the server sent back before it ended the stream. */
  replyBytes: number
}

/** What a hostile peer writes: it `send`s the bytes it chooses and `pause`s between them; both stop once the stream ends. */
export type HostileWriter = (send: (bytes: Uint8Array) => Promise<void>, pause: (ms: number) => Promise<void>) => Promise<void>

const MIB = 1024 * 1024

/** 1 MiB of 0xff: a length prefix that never ends. */
export const endlessVarint: HostileWriter = async send => {
  const piece = new Uint8Array(64 * 1024).fill(0xff)
  for (let sent = 0; sent < MIB; sent += piece.byteLength) await send(piece)
}

export type AbuseKind = 'none' | 'endless-varint' | 'over-limit' | 'slowloris' | 'many-streams' | 'garbage-protobuf'
export const ABUSE_KINDS: readonly AbuseKind[] = ['none', 'endless-varint', 'over-limit', 'slowloris', 'many-streams', 'garbage-protobuf']

/** The streams one abuse opens at once, and what each writes. */
export function abuse (kind: Exclude<AbuseKind, 'none'>, protocol: HostileProtocol): { streams: number, writer: HostileWriter } {
  const limits = LIMITS[protocol]
  switch (kind) {
    case 'endless-varint':
      return { streams: 1, writer: endlessVarint }
    case 'over-limit':
      // A length one over the server's limit, then the start of a body the server should never wait for.
      return { streams: 1, writer: async send => { await send(encodeVarint(limits.maxRequestBytes + 1)); await send(new Uint8Array(MIB)) } }
    case 'slowloris':
      // A valid length, then the body one byte every 100 ms: only the server's read timeout ends it.
      return {
        streams: 1,
        writer: async (send, pause) => {
          const length = Math.min(limits.maxRequestBytes, 200)
          await send(encodeVarint(length))
          for (let i = 0; i < length; i++) { await pause(100); await send(new Uint8Array([0x08])) }
        }
      }
    case 'many-streams':
      // Twice the streams the server takes from one connection, each with an endless prefix.
      return { streams: 2 * limits.maxInboundStreams, writer: endlessVarint }
    case 'garbage-protobuf':
      // A valid length and a body that is no protobuf (a field tag with wire type 7, which does not exist).
      return { streams: 1, writer: async send => { await send(encodeVarint(64)); await send(new Uint8Array(64).fill(0xff)) } }
  }
}

/**
 * Opens `protocol` on `peer`, writes what `writer` chooses, and waits up to
 * `waitMs` for the server to end the stream. The stream is aborted on our side
 * afterwards if the server did not.
 */
export async function hostileStream (from: MeshLibp2p, peer: PeerId, protocol: string, writer: HostileWriter, waitMs: number): Promise<HostileOutcome> {
  const started = performance.now()
  let stream: Stream
  try {
    stream = await from.dialProtocol(peer, protocol, { signal: AbortSignal.timeout(waitMs) })
  } catch (err) {
    return { ended: 'refused', error: (err as Error).name, afterMs: performance.now() - started, replyBytes: 0 }
  }
  let replyBytes = 0
  stream.addEventListener('message', evt => { replyBytes += evt.data.byteLength })
  const ended = new Promise<Omit<HostileOutcome, 'replyBytes'>>(resolve => {
    // A stream past the server's limit may be reset before dialProtocol returns, and its close event gone by.
    if (stream.status !== 'open') {
      resolve({ ended: stream.status === 'closed' ? 'closed' : 'reset', afterMs: performance.now() - started })
      return
    }
    stream.addEventListener('close', evt => {
      resolve({ ended: stream.status === 'reset' || stream.status === 'aborted' ? 'reset' : 'closed', afterMs: performance.now() - started, ...(evt.error != null ? { error: evt.error.name } : {}) })
    }, { once: true })
    stream.addEventListener('remoteCloseWrite', () => { resolve({ ended: 'closed', afterMs: performance.now() - started }) }, { once: true })
  })
  const done = new AbortController()
  void ended.then(() => { done.abort() })
  const signal = AbortSignal.any([done.signal, AbortSignal.timeout(waitMs)])
  const send = async (bytes: Uint8Array): Promise<void> => {
    if (signal.aborted || stream.writeStatus !== 'writable') return
    if (!stream.send(bytes)) await drained(stream, signal)
  }
  const pause = async (ms: number): Promise<void> => { await sleep(ms, undefined, { signal }).catch(() => {}) }
  // A write that fails means the server has ended the stream, which `ended` reports.
  await writer(send, pause).catch(() => {})
  const timedOut = sleep(Math.max(0, waitMs - (performance.now() - started)), { ended: 'open' as const, afterMs: null }, { signal: done.signal }).catch(() => undefined)
  const result = await Promise.race([ended, timedOut]) ?? await ended
  if (stream.status === 'open') stream.abort(new Error('the hostile peer is done with the stream'))
  return { ...result, replyBytes }
}

async function drained (stream: Stream, signal: AbortSignal): Promise<void> {
  await new Promise<void>(resolve => {
    const finish = (): void => {
      stream.removeEventListener('drain', finish)
      stream.removeEventListener('close', finish)
      signal.removeEventListener('abort', finish)
      resolve()
    }
    stream.addEventListener('drain', finish)
    stream.addEventListener('close', finish)
    signal.addEventListener('abort', finish)
  })
}

/**
 * Abuses of a connection rather than of a protocol's stream, each 1 MiB of
 * 0xff where libp2p reads a length prefix with lpStream: from a TCP client
 * before any encryption (multistream-select's first message, so anyone who
 * can reach the port can send it), and from a peer that answers the node's
 * identify request with it (the node asks every peer that connects).
 */
export const CONNECTION_ABUSES = ['before-encryption', 'identify-answer'] as const
export type ConnectionAbuse = typeof CONNECTION_ABUSES[number]

/** Sends 1 MiB of 0xff on a new TCP connection to `port` and waits up to `waitMs` for the node to close it. */
export async function hostileConnection (host: string, port: number, waitMs: number): Promise<HostileOutcome> {
  const started = performance.now()
  const socket = connect(port, host)
  let replyBytes = 0
  socket.on('data', data => { replyBytes += data.byteLength })
  const ended = new Promise<HostileOutcome>(resolve => {
    socket.once('close', () => { resolve({ ended: 'closed', afterMs: performance.now() - started, replyBytes }) })
    socket.once('error', err => { resolve({ ended: 'reset', error: err.name, afterMs: performance.now() - started, replyBytes }) })
  })
  socket.once('connect', () => { socket.write(new Uint8Array(1024 * 1024).fill(0xff)) })
  const timer = sleep(waitMs, undefined, { ref: false }).then(() => ({ ended: 'open' as const, afterMs: null, replyBytes }))
  const outcome = await Promise.race([ended, timer])
  socket.destroy()
  return outcome
}
