import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId, Startable } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CODE_P2P, multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { connectPair, quickNodeConfig, startNode, stopNodes } from '../../harness/in-process-mesh.js'
import type { HerdNode } from '../../src/node.js'
import { AnnouncedAddresses, ownAnnouncedAddresses } from '../../src/mesh/announced-addresses.js'
import { decodeAnnouncement, encodeAnnouncement } from '../../src/mesh/announcement-codec.js'
import { CACHE_TOPIC, MAX_ANNOUNCED_ADDRESSES } from '../../src/mesh/constants.js'
import { createMeshLibp2p, type MeshLibp2p } from '../../src/mesh/libp2p.js'
import { CacheAnnouncement } from '../../src/mesh/pb/announcement.js'
import { devnetForSuite, waitFor } from '../helpers/mesh.js'

async function somePeer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** An AnnouncedAddresses over a peer store that records each merge. */
function recording (init: { privateNetwork: boolean, connected?: Set<string>, maxRememberedPeers?: number, failMerges?: boolean }): { learned: AnnouncedAddresses, merges: Array<{ peer: string, addresses: string[] }> } {
  const merges: Array<{ peer: string, addresses: string[] }> = []
  const learned = new AnnouncedAddresses({
    peerStore: {
      merge: async (peer, data) => {
        merges.push({ peer: peer.toString(), addresses: data.multiaddrs.map(a => a.toString()) })
        if (init.failMerges === true) throw new Error('the peer store is closed')
      }
    },
    connections: peer => init.connected?.has(peer.toString()) === true ? 1 : 0
  }, { privateNetwork: init.privateNetwork, ...(init.maxRememberedPeers != null ? { maxRememberedPeers: init.maxRememberedPeers } : {}) })
  return { learned, merges }
}

const addrs = (...list: string[]): Multiaddr[] => list.map(a => multiaddr(a))

describe('announced addresses: the codec', () => {
  it('carries the publisher\'s addresses and refuses ones that name a peer, do not parse or are oversized', async () => {
    const own = addrs('/ip4/198.18.0.5/tcp/4001', '/ip6/::1/tcp/4001', '/dns4/node.example.com/tcp/4001')
    const decoded = decodeAnnouncement(encodeAnnouncement({ seq: 1n, time: 1, added: [], dropped: [], fetching: [], addresses: own }))
    assert.deepEqual(decoded.addresses?.map(a => a.toString()), own.map(a => a.toString()))
    assert.equal(decodeAnnouncement(encodeAnnouncement({ seq: 1n, time: 1, added: [], dropped: [], fetching: [] })).addresses, undefined, 'a publisher that does not say')
    const peer = await somePeer()
    const withAddresses = (addresses: Array<Uint8Array<ArrayBuffer>>): Uint8Array => CacheAnnouncement.encode({ seq: 1n, time: 1n, added: [], dropped: [], fetching: [], addresses })
    assert.throws(() => decodeAnnouncement(withAddresses([multiaddr(`/ip4/1.2.3.4/tcp/1/p2p/${peer.toString()}`).bytes])), { name: 'MeshProtocolError', message: /addresses\[0\] names a peer/ })
    assert.throws(() => decodeAnnouncement(withAddresses([own[0]!.bytes, new Uint8Array([0xff, 0xff, 0xff])])), { name: 'MeshProtocolError', message: /addresses\[1\] is not a multiaddr/ })
    assert.throws(() => decodeAnnouncement(withAddresses([new Uint8Array(301)])), { name: 'MeshProtocolError', message: /addresses\[0\] is 301 bytes, over 300/ })
    assert.throws(() => decodeAnnouncement(withAddresses(Array.from({ length: MAX_ANNOUNCED_ADDRESSES + 1 }, () => own[0]!.bytes))), { name: 'MeshProtocolError' })
  })
})

describe('announced addresses: into the peer store', () => {
  it('merges a peer\'s dialable TCP addresses, dropping private ones unless the mesh is private', async () => {
    const peer = await somePeer()
    const heard = addrs('/ip4/127.0.0.1/tcp/4001', '/ip4/198.18.0.5/tcp/4001', '/ip4/8.8.8.8/tcp/4001', '/ip4/8.8.8.8/udp/4001/quic-v1', '/ip4/8.8.8.8/tcp/4001/ws')
    const open = recording({ privateNetwork: false })
    open.learned.learn(peer, heard)
    assert.deepEqual(open.merges, [{ peer: peer.toString(), addresses: ['/ip4/8.8.8.8/tcp/4001'] }])
    const closed = recording({ privateNetwork: true })
    closed.learned.learn(peer, heard)
    assert.deepEqual(closed.merges[0]?.addresses, ['/ip4/127.0.0.1/tcp/4001', '/ip4/198.18.0.5/tcp/4001', '/ip4/8.8.8.8/tcp/4001'])
    const none = recording({ privateNetwork: false })
    none.learned.learn(peer, addrs('/ip4/10.0.0.1/tcp/1'))
    assert.deepEqual(none.merges, [], 'nothing dialable, nothing merged')
  })

  it('leaves a connected peer to identify, merges an unchanged list once, a changed one again, and retries after a failed merge', async () => {
    const [a, b] = [await somePeer(), await somePeer()]
    const { learned, merges } = recording({ privateNetwork: true, connected: new Set([b.toString()]) })
    learned.learn(b, addrs('/ip4/127.0.0.1/tcp/1'))
    assert.equal(merges.length, 0)
    learned.learn(a, addrs('/ip4/127.0.0.1/tcp/1'))
    learned.learn(a, addrs('/ip4/127.0.0.1/tcp/1'))
    assert.equal(merges.length, 1)
    learned.learn(a, addrs('/ip4/127.0.0.1/tcp/2'))
    assert.equal(merges.length, 2)
    const failing = recording({ privateNetwork: true, failMerges: true })
    failing.learned.learn(a, addrs('/ip4/127.0.0.1/tcp/1'))
    await new Promise(resolve => setImmediate(resolve))
    failing.learned.learn(a, addrs('/ip4/127.0.0.1/tcp/1'))
    assert.equal(failing.merges.length, 2, 'a failed merge is not remembered as done')
  })

  it('announces its own addresses without its peer ID, each once, public ones first, within the bound', async () => {
    const self = (await somePeer()).toString()
    const bridges = Array.from({ length: 9 }, (_, i) => `/ip4/172.17.0.${i + 1}/tcp/4001/p2p/${self}`)
    const own = ownAnnouncedAddresses(addrs(...bridges, `/ip4/8.8.8.8/tcp/4001/p2p/${self}`, `/ip4/8.8.8.8/tcp/4001/p2p/${self}`)).map(a => a.toString())
    assert.equal(own.length, MAX_ANNOUNCED_ADDRESSES)
    assert.equal(own[0], '/ip4/8.8.8.8/tcp/4001', 'the public address first, once, and without /p2p')
    assert.deepEqual(own.slice(1), bridges.slice(0, MAX_ANNOUNCED_ADDRESSES - 1).map(a => a.replace(`/p2p/${self}`, '')))
  })

  it('remembers a bounded number of peers, forgetting the oldest', async () => {
    const peers = [await somePeer(), await somePeer(), await somePeer()]
    const { learned, merges } = recording({ privateNetwork: true, maxRememberedPeers: 2 })
    for (const peer of peers) learned.learn(peer, addrs('/ip4/127.0.0.1/tcp/1'))
    learned.learn(peers[2]!, addrs('/ip4/127.0.0.1/tcp/1'))
    assert.equal(merges.length, 3, 'the newest is still remembered')
    learned.learn(peers[0]!, addrs('/ip4/127.0.0.1/tcp/1'))
    assert.equal(merges.length, 4, 'the oldest was forgotten, so merged again')
  })
})

describe('announced addresses: between nodes', () => {
  const suite = devnetForSuite()

  it('lets a node dial a peer it heard of only through another, which no DHT answer names', async () => {
    const nodes: HerdNode[] = []
    let c: MeshLibp2p | undefined
    try {
      for (const name of ['a', 'b']) nodes.push(await startNode(quickNodeConfig(join(suite.dir, name), suite.devnet)))
      const [a, b] = nodes as [HerdNode, HerdNode]
      await connectPair(a, b)
      // c takes no part in the DHT: b's routing table never holds it, so no DHT answer can tell a where it is (only c's
      // announcements can), and c's own queries would find a and dial it.
      c = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], privateNetwork: true })
      await c.start()
      await c.services.dht.setMode('client')
      await (c.services.dht as unknown as Startable).stop()
      await c.dial(b.libp2p.getMultiaddrs(), { signal: AbortSignal.timeout(10_000) })
      c.services.pubsub.subscribe(CACHE_TOPIC)
      const cId = c.peerId
      const own = c.getMultiaddrs().map(address => address.decapsulateCode(CODE_P2P))
      const stored = async (): Promise<string[]> => {
        try {
          return (await a.libp2p.peerStore.get(cId)).addresses.map(address => address.multiaddr.toString()).sort()
        } catch {
          return []
        }
      }
      let seq = BigInt(Date.now())
      await waitFor('a to learn c\'s addresses from c\'s announcements, relayed by b', async () => {
        await c?.services.pubsub.publish(CACHE_TOPIC, encodeAnnouncement({ seq: ++seq, time: Date.now(), added: [], dropped: [], fetching: [], addresses: own }))
        return (await stored()).length > 0
      }, 20_000, 250)
      assert.equal(a.libp2p.getConnections(cId).length, 0, 'a heard of c without a connection to it')
      assert.deepEqual(await stored(), own.map(address => address.toString()).sort())
      const connection = await a.libp2p.dial(cId, { signal: AbortSignal.timeout(10_000) })
      assert.ok(own.some(address => address.equals(connection.remoteAddr.decapsulateCode(CODE_P2P))), `dialed ${connection.remoteAddr.toString()}`)
    } finally {
      await c?.stop()
      await stopNodes(nodes)
    }
  })
})
