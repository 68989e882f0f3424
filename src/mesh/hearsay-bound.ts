/**
 * Bounds what other peers' say-so can add to the peer store.
 *
 * Why: libp2p merges every peer named in a DHT answer (closer peers,
 * providers) into the peer store, and keeps a peer it never reaches for six
 * hours. One DHT answer may be up to KAD_MAX_MESSAGE_BYTES, so a lying peer
 * in the routing table can add thousands of made-up peers, each with as many
 * addresses as fit, every time this node asks it something. A peer the node
 * has connected to (identify recorded its protocols), is connected to, or
 * has tagged is its own knowledge and is never touched here; the rest,
 * hearsay, is kept to `maxPeers` and `maxAddresses` each.
 */
import { randomInt } from 'node:crypto'
import type { AbortOptions, ComponentLogger, Connection, Logger, Peer, PeerId, Startable } from '@libp2p/interface'
import { repeatingTask, type RepeatingTask } from '@libp2p/utils'

/** More than the closer peers of many lookups (20 each), far below what floods of made-up peers reach. */
export const DEFAULT_MAX_HEARSAY_PEERS = 1024
/** An honest peer announces a handful of addresses (a few transports, IPv4 and IPv6). */
export const DEFAULT_MAX_HEARSAY_ADDRESSES = 16
export const DEFAULT_HEARSAY_PRUNE_INTERVAL_MS = 10_000

export interface HearsayBoundComponents {
  peerStore: {
    all: (options?: AbortOptions) => Promise<Peer[]>
    delete: (peerId: PeerId, options?: AbortOptions) => Promise<void>
  }
  connectionManager: { getConnections: () => Connection[] }
  logger: ComponentLogger
}

export interface HearsayBoundInit {
  maxPeers?: number
  maxAddresses?: number
  intervalMs?: number
}

export class HearsayBound implements Startable {
  private readonly components: HearsayBoundComponents
  private readonly log: Logger
  private readonly maxPeers: number
  private readonly maxAddresses: number
  private readonly intervalMs: number
  private task?: RepeatingTask
  /** Hearsay peers deleted, for the logs and the tests. */
  deleted = 0

  constructor (components: HearsayBoundComponents, init: HearsayBoundInit = {}) {
    this.components = components
    this.log = components.logger.forComponent('herd:mesh:hearsay-bound')
    this.maxPeers = init.maxPeers ?? DEFAULT_MAX_HEARSAY_PEERS
    this.maxAddresses = init.maxAddresses ?? DEFAULT_MAX_HEARSAY_ADDRESSES
    this.intervalMs = init.intervalMs ?? DEFAULT_HEARSAY_PRUNE_INTERVAL_MS
  }

  readonly [Symbol.toStringTag] = '@herd/hearsay-bound'

  start (): void {
    if (this.task != null) return
    this.task = repeatingTask(async (options) => {
      await this.prune(options).catch((err: Error) => { this.log.error('pruning hearsay peers failed - %e', err) })
    }, this.intervalMs)
    this.task.start()
  }

  stop (): void {
    this.task?.stop()
    this.task = undefined
  }

  /** Deletes hearsay peers with too many addresses, then the surplus over `maxPeers`; returns how many went. */
  async prune (options?: AbortOptions): Promise<number> {
    const connected = new Set(this.components.connectionManager.getConnections().map(c => c.remotePeer.toString()))
    const hearsay = (await this.components.peerStore.all(options))
      .filter(peer => peer.protocols.length === 0 && peer.tags.size === 0 && !connected.has(peer.id.toString()))
    const flooded = hearsay.filter(peer => peer.addresses.length > this.maxAddresses)
    const kept = hearsay.filter(peer => peer.addresses.length <= this.maxAddresses)
    // Survivors drawn at random: a liar can choose the IDs it makes up, so any order of its choosing would spare its own.
    const doomed = [...flooded, ...shuffled(kept).slice(this.maxPeers)]
    for (const peer of doomed) {
      options?.signal?.throwIfAborted()
      await this.components.peerStore.delete(peer.id, options)
    }
    if (doomed.length > 0) this.log('deleted %d hearsay peers (%d with over %d addresses)', doomed.length, flooded.length, this.maxAddresses)
    this.deleted += doomed.length
    return doomed.length
  }
}

function shuffled<T> (items: T[]): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1)
    const swap = out[i] as T
    out[i] = out[j] as T
    out[j] = swap
  }
  return out
}

export function hearsayBound (init: HearsayBoundInit = {}): (components: HearsayBoundComponents) => HearsayBound {
  return (components) => new HearsayBound(components, init)
}
