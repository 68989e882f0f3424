import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '@libp2p/interface'
import { createMeshLibp2p, type MeshLibp2p } from '../../src/mesh/libp2p.js'
import { waitFor } from '../helpers/mesh.js'

const MAX_PEERS = 50
const MAX_ADDRESSES = 4

async function node (intervalMs = 60_000): Promise<MeshLibp2p> {
  const libp2p = await createMeshLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    privateNetwork: true,
    hearsay: { maxPeers: MAX_PEERS, maxAddresses: MAX_ADDRESSES, intervalMs }
  })
  await libp2p.start()
  return libp2p
}

async function madeUpPeer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** What libp2p does with every peer a DHT answer names: merges its addresses into the peer store. */
async function hearOf (libp2p: MeshLibp2p, peerId: PeerId, addresses: number): Promise<void> {
  const multiaddrs = Array.from({ length: addresses }, (_, i) => multiaddr(`/ip4/198.18.${i >> 8}.${i & 255}/tcp/4001`))
  await libp2p.peerStore.merge(peerId, { multiaddrs })
}

describe('the bound on hearsay peers', () => {
  const nodes: MeshLibp2p[] = []
  after(async () => { await Promise.all(nodes.map(async n => n.stop())) })

  it('keeps peers heard of to its bound, drops one with too many addresses, and never touches peers it knows itself', async () => {
    const victim = await node()
    const friend = await node()
    nodes.push(victim, friend)
    await victim.dial(friend.getMultiaddrs())
    await waitFor('identify to record the friend\'s protocols', async () => (await victim.peerStore.get(friend.peerId)).protocols.length > 0)
    const tagged = await madeUpPeer()
    await hearOf(victim, tagged, 2)
    await victim.peerStore.merge(tagged, { tags: { bootstrap: { value: 50 } } })
    const flooder = await madeUpPeer()
    await hearOf(victim, flooder, 200)
    for (let i = 0; i < 300; i++) await hearOf(victim, await madeUpPeer(), 2)

    const deleted = await victim.services.hearsay.prune()

    const left = await victim.peerStore.all()
    const ids = new Set(left.map(p => p.id.toString()))
    assert.equal(deleted, 251, 'the flooder and 250 of the 300 beyond the bound')
    assert.ok(ids.has(friend.peerId.toString()), 'a connected, identified peer stays')
    assert.ok(ids.has(tagged.toString()), 'a tagged peer stays')
    assert.ok(!ids.has(flooder.toString()), 'a peer with more addresses than the bound goes')
    const hearsay = left.filter(p => p.protocols.length === 0 && p.tags.size === 0 && !p.id.equals(friend.peerId))
    assert.equal(hearsay.length, MAX_PEERS)
    assert.equal(await victim.services.hearsay.prune(), 0, 'nothing more to prune')
  })

  it('prunes on its own, every interval', async () => {
    const victim = await node(100)
    nodes.push(victim)
    for (let i = 0; i < 2 * MAX_PEERS; i++) await hearOf(victim, await madeUpPeer(), 1)
    await waitFor('the repeating prune to bring hearsay back to its bound', async () => (await victim.peerStore.all()).length <= MAX_PEERS)
    assert.ok(victim.services.hearsay.deleted >= MAX_PEERS)
  })
})
