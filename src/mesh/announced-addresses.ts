/**
 * Puts a publisher's own announced addresses into the peer store, so that a
 * node which heard of it only through other peers (gossip relays
 * announcements) can dial it at once. Without them libp2p looks a peer with
 * no known address up in the DHT before dialing it: in the cold start of a
 * 16-node swarm, where each node was connected to 3-10 others, the nodes ran
 * about 150 such lookups, each taking 0.5-12 s (median 4.8 s) and about eight
 * FIND_NODE requests, while their downloads waited to ask those peers which
 * chunks they had.
 *
 * The addresses are the publisher's claim about itself, signed with its
 * announcement, as are those it gives in identify: a peer can name only its
 * own addresses here (the codec refuses a /p2p part), and a dial to an
 * address where it is not fails the Noise handshake, which checks the peer
 * ID. What this adds for peers never connected to is bounded by
 * hearsay-bound.ts like any other hearsay.
 */
import type { AbortOptions, PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { isPrivate } from '@libp2p/utils'
import { CODE_P2P, type Multiaddr } from '@multiformats/multiaddr'
import { MAX_ANNOUNCED_ADDRESSES } from './constants.js'

const log = logger('herd:mesh:announced-addresses')

/** Peers whose last learned addresses are remembered, so an unchanged list is not merged again with every announcement. */
export const DEFAULT_MAX_REMEMBERED_PEERS = 1024

const HOSTS = new Set(['ip4', 'ip6', 'dns', 'dns4', 'dns6'])

/** A host and a TCP port, nothing else (herd's only transport); not private unless the mesh is. */
export function dialableTcp (address: Multiaddr, privateNetwork: boolean): boolean {
  const components = address.getComponents()
  if (components.length !== 2 || !HOSTS.has(components[0]!.name) || components[1]!.name !== 'tcp') return false
  return privateNetwork || !isPrivate(address)
}

/**
 * What this node announces of its own addresses: without its peer ID, each
 * once, public ones first, so that a host with many private interfaces
 * (container bridges) still fits its public ones in the bound.
 */
export function ownAnnouncedAddresses (multiaddrs: Multiaddr[]): Multiaddr[] {
  const seen = new Set<string>()
  const own: Multiaddr[] = []
  for (const address of multiaddrs.map(a => a.decapsulateCode(CODE_P2P))) {
    const key = address.toString()
    if (seen.has(key)) continue
    seen.add(key)
    own.push(address)
  }
  return [...own.filter(a => !isPrivate(a)), ...own.filter(a => isPrivate(a))].slice(0, MAX_ANNOUNCED_ADDRESSES)
}

export interface AnnouncedAddressesComponents {
  peerStore: { merge: (peerId: PeerId, data: { multiaddrs: Multiaddr[] }, options?: AbortOptions) => Promise<unknown> }
  /** Open connections to a peer: a connected peer's addresses came from identify. */
  connections: (peerId: PeerId) => number
}

export interface AnnouncedAddressesInit {
  /** Whether private and loopback addresses are dialable (the mesh's `privateNetwork`); if not they are dropped, as the DHT drops them. */
  privateNetwork: boolean
  maxRememberedPeers?: number
}

export class AnnouncedAddresses {
  private readonly components: AnnouncedAddressesComponents
  private readonly privateNetwork: boolean
  private readonly maxRemembered: number
  /** Each peer's last merged address list, as a key; oldest first. */
  private readonly merged = new Map<string, string>()

  constructor (components: AnnouncedAddressesComponents, init: AnnouncedAddressesInit) {
    this.components = components
    this.privateNetwork = init.privateNetwork
    this.maxRemembered = init.maxRememberedPeers ?? DEFAULT_MAX_REMEMBERED_PEERS
  }

  /** Takes what `peer` announced of its addresses; merges the dialable ones into the peer store unless connected or already merged. */
  learn (peer: PeerId, addresses: Multiaddr[]): void {
    if (this.components.connections(peer) > 0) return
    const dialable = addresses.filter(address => dialableTcp(address, this.privateNetwork))
    if (dialable.length === 0) return
    const id = peer.toString()
    const key = dialable.map(address => address.toString()).join(' ')
    if (this.merged.get(id) === key) return
    this.merged.delete(id)
    this.merged.set(id, key)
    if (this.merged.size > this.maxRemembered) this.merged.delete(this.merged.keys().next().value as string)
    this.components.peerStore.merge(peer, { multiaddrs: dialable }).catch(err => {
      this.merged.delete(id)
      log.error('storing the announced addresses of %p failed - %e', peer, err)
    })
  }
}
