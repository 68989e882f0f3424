import { logger } from '@libp2p/logger'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { REDIAL_KNOWN_PEERS } from './constants.js'
import type { KnownPeer } from './known-peers.js'

const log = logger('herd:mesh:redial-known')

/** Dials at once. */
const REDIAL_CONCURRENCY = 4
/** One peer's dial, all its addresses together. */
const REDIAL_TIMEOUT_MS = 10_000

export interface RedialTarget {
  /** Dials one peer at these addresses (each ending in its /p2p/ ID). */
  dial: (addresses: Multiaddr[], options: { signal: AbortSignal }) => Promise<unknown>
  isConnected: (peerId: string) => boolean
}

export interface RedialResult {
  tried: number
  connected: number
}

/**
 * Dials the most recently met of `peers` that this node is not connected
 * to, at most `max`, a few at a time, each for at most REDIAL_TIMEOUT_MS;
 * failures are logged and left (the peer may have moved or gone), and
 * `signal` ends the round.
 */
export async function redialKnownPeers (peers: KnownPeer[], target: RedialTarget, options: { max?: number, signal?: AbortSignal } = {}): Promise<RedialResult> {
  const queue = peers.filter(peer => !target.isConnected(peer.peerId)).slice(0, options.max ?? REDIAL_KNOWN_PEERS)
  const result: RedialResult = { tried: queue.length, connected: 0 }
  const next = async (): Promise<void> => {
    for (let peer = queue.shift(); peer != null && options.signal?.aborted !== true; peer = queue.shift()) {
      const signal = options.signal != null ? AbortSignal.any([options.signal, AbortSignal.timeout(REDIAL_TIMEOUT_MS)]) : AbortSignal.timeout(REDIAL_TIMEOUT_MS)
      try {
        await target.dial(peer.addresses.map(address => multiaddr(`${address}/p2p/${peer.peerId}`)), { signal })
        result.connected++
      } catch (err) {
        log('could not redial known peer %s - %e', peer.peerId, err)
      }
    }
  }
  await Promise.all(Array.from({ length: REDIAL_CONCURRENCY }, next))
  if (result.tried > 0) log('redialed %d of %d known peers', result.connected, result.tried)
  return result
}
