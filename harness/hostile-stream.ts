// A peer that breaks herd's stream protocols on purpose, and a probe of the event loop it should not block; for the abuse tests and benchmark.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type { PeerId, Stream } from '@libp2p/interface'
import type { MeshLibp2p } from '../src/mesh/libp2p.js'

export interface HostileOutcome {
  /** How the server ended the stream: reset, closed its side (perhaps after a reply), or not within the wait. */
  ended: 'reset' | 'closed' | 'open'
  /** The error the stream closed with on our side, by name. */
  error?: string
  /** From the first byte sent to the end; null if it did not end. */
  afterMs: number | null
  /** Bytes the server sent back before it ended the stream. */
  replyBytes: number
}

/** What a hostile peer writes: `send` the bytes it chooses, and `pause` between them, both on the stream's signal. */
export type HostileWriter = (send: (bytes: Uint8Array) => Promise<void>, pause: (ms: number) => Promise<void>) => Promise<void>

/** 1 MiB of 0xff: a length prefix that never ends. */
export const ENDLESS_VARINT: HostileWriter = async send => {
  const piece = new Uint8Array(64 * 1024).fill(0xff)
  for (let i = 0; i < 16; i++) await send(piece)
}

/**
 * Opens `protocol` on `peer`, writes what `writer` chooses, and waits up to
 * `waitMs` for the server to end the stream. The stream is aborted on our side
 * afterwards if the server did not.
 */
export async function hostileStream (from: MeshLibp2p, peer: PeerId, protocol: string, writer: HostileWriter, waitMs: number): Promise<HostileOutcome> {
  const stream = await from.dialProtocol(peer, protocol, { signal: AbortSignal.timeout(waitMs) })
  let replyBytes = 0
  stream.addEventListener('message', evt => { replyBytes += evt.data.byteLength })
  const ended = new Promise<Omit<HostileOutcome, 'afterMs' | 'replyBytes'>>(resolve => {
    stream.addEventListener('close', evt => {
      resolve({ ended: stream.status === 'reset' || stream.status === 'aborted' ? 'reset' : 'closed', ...(evt.error != null ? { error: evt.error.name } : {}) })
    }, { once: true })
    stream.addEventListener('remoteCloseWrite', () => { resolve({ ended: 'closed' }) }, { once: true })
  })
  const done = new AbortController()
  void ended.then(() => { done.abort() })
  const signal = AbortSignal.any([done.signal, AbortSignal.timeout(waitMs)])
  const started = performance.now()
  const send = async (bytes: Uint8Array): Promise<void> => {
    if (signal.aborted || stream.writeStatus !== 'writable') return
    if (!stream.send(bytes)) await drained(stream, signal)
  }
  const pause = async (ms: number): Promise<void> => { await sleep(ms, undefined, { signal }).catch(() => {}) }
  await writer(send, pause).catch(() => {})
  const timedOut = sleep(waitMs, { ended: 'open' as const }, { signal: done.signal }).catch(() => undefined)
  const result = await Promise.race([ended, timedOut]) ?? await ended
  if (stream.status === 'open') stream.abort(new Error('the hostile test is done with the stream'))
  return { ...result, afterMs: result.ended === 'open' ? null : performance.now() - started, replyBytes }
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

export interface LoopDelay {
  maxMs: number
  p99Ms: number
}

/**
 * Samples this process's event-loop delay every 10 ms until `stop()`: the
 * longest time a timer waited past its due, which is how long nothing else
 * (HTTP, gossip, libp2p) could run.
 */
export function probeEventLoop (): { stop: () => LoopDelay } {
  const histogram = monitorEventLoopDelay({ resolution: 10 })
  histogram.enable()
  return {
    stop () {
      histogram.disable()
      return { maxMs: histogram.max / 1e6, p99Ms: histogram.percentile(99) / 1e6 }
    }
  }
}
