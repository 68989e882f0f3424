import { logger } from '@libp2p/logger'
import { peerIdFromString } from '@libp2p/peer-id'
import { CODE_P2P, multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { Level } from 'level'
import { z } from 'zod'
import { checkStoreVersion, openLevelStore } from '../blob/level-store.js'
import { dialableTcp } from './announced-addresses.js'
import { MAX_KNOWN_PEERS } from './constants.js'
import { KnownPeersError } from './errors.js'

const log = logger('herd:mesh:known-peers')

/** An honest node announces a handful of listen addresses (a transport or two, IPv4 and IPv6). */
export const MAX_KNOWN_ADDRESSES = 8
const MAX_ADDRESS_CHARS = 256
const VERSION_KEY = 'version'
const PEER_PREFIX = 'peer/'
const STORE_VERSION = 1

const knownPeerSchema = z.strictObject({
  peerId: z.string().min(1).max(128),
  addresses: z.array(z.string().min(1).max(MAX_ADDRESS_CHARS)).min(1).max(MAX_KNOWN_ADDRESSES),
  seenAt: z.number().int().nonnegative()
})

export type KnownPeer = z.infer<typeof knownPeerSchema>

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * The addresses of `announced` worth dialing again, as announced-addresses.ts
 * takes a publisher's: a host and a TCP port (this mesh's only transport),
 * without the peer ID, private and loopback ones only on a private mesh (a
 * node on the internet must not dial into other networks on a peer's
 * say-so), at most MAX_KNOWN_ADDRESSES.
 */
export function dialableAddresses (announced: Multiaddr[], privateNetwork: boolean): string[] {
  const out: string[] = []
  for (const address of announced) {
    const bare = address.decapsulateCode(CODE_P2P)
    const text = bare.toString()
    if (!dialableTcp(bare, privateNetwork) || text.length > MAX_ADDRESS_CHARS || out.includes(text)) continue
    out.push(text)
    if (out.length === MAX_KNOWN_ADDRESSES) break
  }
  return out
}

/**
 * The herd peers this node has met, kept in level (`DATA_DIR/peers`) so that
 * a restarted node can dial them again at once rather than wait for its
 * bootstrap peers and gossip: libp2p's own peer store lives in memory. Each
 * record is a peer's listen addresses as it announced them and when it was
 * last met; at most MAX_KNOWN_PEERS are kept, the most recent. The records
 * are a hint, not a node's data: one that does not parse (a crash mid-write,
 * a hand edit) is dropped with a warning, not fatal.
 */
export class KnownPeers {
  readonly path: string
  private readonly db: Level<string, Uint8Array>
  private readonly peers = new Map<string, KnownPeer>()

  constructor (path: string) {
    this.path = path
    this.db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
  }

  async open (): Promise<void> {
    await openLevelStore(this.db, 'known peers store', this.path, message => new KnownPeersError(message))
    try {
      await checkStoreVersion(this.db, { what: 'known peers store', path: this.path, key: VERSION_KEY, version: STORE_VERSION }, message => new KnownPeersError(message))
      const dropped: string[] = []
      for await (const [key, value] of this.db.iterator({ gt: PEER_PREFIX, lt: PEER_PREFIX + '\xff' })) {
        const peer = parseRecord(key, value)
        if (peer == null) dropped.push(key)
        else this.peers.set(peer.peerId, peer)
      }
      if (dropped.length > 0) {
        log.error('%s: dropped %d records that are not known peers (first %s)', this.path, dropped.length, dropped[0]?.slice(0, 80))
        await this.db.batch(dropped.map(key => ({ type: 'del' as const, key })))
      }
      await this.forgetOldest()
    } catch (err) {
      await this.db.close()
      throw err
    }
  }

  async close (): Promise<void> {
    if (this.db.status === 'open') await this.db.close()
  }

  /** The peers kept, the most recently met first. */
  all (): KnownPeer[] {
    return [...this.peers.values()].sort((a, b) => b.seenAt - a.seenAt)
  }

  /** Keeps `peerId` with `addresses` as met at `seenAt`; a peer without dialable addresses is not kept. */
  async remember (peerId: string, addresses: string[], seenAt = Date.now()): Promise<void> {
    if (addresses.length === 0 || this.db.status !== 'open') return
    const peer = knownPeerSchema.parse({ peerId, addresses: addresses.slice(0, MAX_KNOWN_ADDRESSES), seenAt })
    await this.db.put(PEER_PREFIX + peerId, encoder.encode(JSON.stringify(peer)))
    this.peers.set(peerId, peer)
    await this.forgetOldest()
  }

  private async forgetOldest (): Promise<void> {
    const surplus = this.all().slice(MAX_KNOWN_PEERS)
    if (surplus.length === 0) return
    await this.db.batch(surplus.map(peer => ({ type: 'del' as const, key: PEER_PREFIX + peer.peerId })))
    for (const peer of surplus) this.peers.delete(peer.peerId)
  }
}

function parseRecord (key: string, value: Uint8Array): KnownPeer | undefined {
  try {
    const peer = knownPeerSchema.parse(JSON.parse(decoder.decode(value)))
    if (key !== PEER_PREFIX + peer.peerId) return undefined
    peerIdFromString(peer.peerId)
    for (const address of peer.addresses) multiaddr(address)
    return peer
  } catch {
    return undefined
  }
}
