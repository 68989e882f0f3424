import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { BlobId } from '../../src/blob/blob-id.js'
import { CACHE_TOPIC } from '../../src/mesh/constants.js'
import { createMeshLibp2p } from '../../src/mesh/libp2p.js'
import { parseNodeConfig, type NodeConfigInput } from '../../src/node-config.js'
import { HerdNode } from '../../src/node.js'
import { QUICK_MESH, quickNodeConfig } from '../../harness/in-process-mesh.js'
import { devnetForSuite, randomModel, startNodes, stopNodes, waitFor } from '../helpers/mesh.js'

const CHUNK = 256 * 1024
/** A few gossipsub heartbeats (1 s) and digest intervals (1 s in the tests): far below the 60 s of a prune backoff or the 10 s provider TTL. */
const GOSSIP_MS = 5_000

function lists (node: HerdNode, blobId: BlobId, peerId: string): boolean {
  return node.providers.providers(blobId).some(p => p.peerId === peerId && p.state === 'holder')
}

function subscribed (node: HerdNode, peerId: string): boolean {
  return node.libp2p.services.pubsub.getSubscribers(CACHE_TOPIC).some(p => p.toString() === peerId)
}

/** Gossipsub's mesh for the topic: the peers it forwards every message to. The router has it; its exported interface does not. */
function inMesh (node: HerdNode, peerId: string): boolean {
  const router = node.libp2p.services.pubsub as unknown as { getMeshPeers: (topic: string) => string[] }
  return router.getMeshPeers(CACHE_TOPIC).includes(peerId)
}

describe('the mesh under churn on one machine', () => {
  const suite = devnetForSuite()

  it('a node restarted from its data dir (same peer ID) rejoins the gossip mesh at once and gossip flows both ways', async () => {
    const held = await suite.devnet.publish(randomModel(CHUNK + 17), { chunkSize: CHUNK })
    const fromA = await suite.devnet.publish(randomModel(CHUNK + 17), { chunkSize: CHUNK })
    const fromB = await suite.devnet.publish(randomModel(CHUNK + 17), { chunkSize: CHUNK })
    const nodesDir = join(suite.dir, 'restart')
    const nodes = await startNodes(2, nodesDir, suite.devnet)
    const [a, b] = nodes as [HerdNode, HerdNode]
    const aId = a.peerId.toString()
    const bId = b.peerId.toString()
    let restarted: HerdNode | undefined
    try {
      await b.fetcher.fetch(held.blobId)
      await waitFor('A to hear that B holds a blob', () => lists(a, held.blobId, bId), GOSSIP_MS)
      await waitFor('A and B to graft each other', () => inMesh(a, bId) && inMesh(b, aId), GOSSIP_MS)
      await b.stop()
      await waitFor('A to forget B', () => !lists(a, held.blobId, bId) && !a.libp2p.getPeers().some(p => p.toString() === bId))

      const b2 = new HerdNode(parseNodeConfig(quickNodeConfig(join(nodesDir, 'node-1'), suite.devnet, { bootstrap: a.libp2p.getMultiaddrs().map(String) })))
      restarted = b2
      await b2.start()
      assert.equal(b2.peerId.toString(), bId, 'the same data dir gives the same peer ID')
      await waitFor('A and B to see each other on the topic', () => subscribed(a, bId) && subscribed(b2, aId))
      // Back in each other's mesh, not held off by a backoff left from B's leaving: A forwards other peers' gossip to B.
      await waitFor('A and B to graft each other again', () => inMesh(a, bId) && inMesh(b2, aId), GOSSIP_MS)
      // B's digest on rejoining tells A what B held before the restart.
      await waitFor('A to hear again that B holds the blob it held before', () => lists(a, held.blobId, bId), GOSSIP_MS)
      await a.fetcher.fetch(fromA.blobId)
      await waitFor('B to hear of the blob A added', () => lists(b2, fromA.blobId, aId), GOSSIP_MS)
      await b2.fetcher.fetch(fromB.blobId)
      await waitFor('A to hear of the blob B added', () => lists(a, fromB.blobId, bId), GOSSIP_MS)
    } finally {
      await restarted?.stop()
      await stopNodes(nodes)
    }
  })

  it('a node restarted from its data dir with no bootstrap peers dials again the herd peers it knew, unless told not to', async () => {
    const nodesDir = join(suite.dir, 'redial')
    const nodes = await startNodes(2, nodesDir, suite.devnet)
    const [a, b] = nodes as [HerdNode, HerdNode]
    const aId = a.peerId.toString()
    const bId = b.peerId.toString()
    const restart = async (overrides: Partial<NodeConfigInput>): Promise<HerdNode> => {
      const node = new HerdNode(parseNodeConfig(quickNodeConfig(join(nodesDir, 'node-1'), suite.devnet, { bootstrap: [], ...overrides })))
      await node.start()
      return node
    }
    const connectedToA = (node: HerdNode): boolean => node.libp2p.getPeers().some(p => p.toString() === aId)
    let restarted: HerdNode | undefined
    try {
      await b.stop()
      await waitFor('A to see B leave', () => !a.libp2p.getPeers().some(p => p.toString() === bId))

      restarted = await restart({ mesh: { ...QUICK_MESH, redialKnownPeers: 0 } })
      await new Promise(resolve => setTimeout(resolve, 1_500))
      assert.equal(connectedToA(restarted), false, 'told not to redial, and with no bootstrap peer, B stays alone')
      await restarted.stop()

      restarted = await restart({})
      await waitFor('B to dial A again from what it kept of A', () => connectedToA(restarted as HerdNode), GOSSIP_MS)
      await waitFor('A and B to see each other on the topic', () => subscribed(a, bId) && subscribed(restarted as HerdNode, aId), GOSSIP_MS)
    } finally {
      await restarted?.stop()
      await stopNodes(nodes)
    }
  })

  it('gossip still flows after a node has seen 15 peer IDs come and go from one allowed address, as in a 16-node cluster on one machine', async () => {
    const fromA = await suite.devnet.publish(randomModel(CHUNK + 17), { chunkSize: CHUNK })
    const fromB = await suite.devnet.publish(randomModel(CHUNK + 17), { chunkSize: CHUNK })
    const nodes = await startNodes(2, join(suite.dir, 'one-address'), suite.devnet)
    const [a, b] = nodes as [HerdNode, HerdNode]
    const aId = a.peerId.toString()
    const bId = b.peerId.toString()
    try {
      // B and 14 more peer IDs, one at a time (gossipsub remembers a departed peer's address for an hour).
      for (let i = 0; i < 14; i++) {
        const passer = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], privateNetwork: true })
        await passer.start()
        try {
          await passer.dial(a.libp2p.getMultiaddrs())
          await waitFor('A to count the passer as a gossipsub peer', () => a.libp2p.services.pubsub.getPeers().some(p => p.equals(passer.peerId)))
        } finally {
          await passer.stop()
        }
        await waitFor('A to see the passer leave', () => !a.libp2p.getPeers().some(p => p.equals(passer.peerId)))
      }
      await a.fetcher.fetch(fromA.blobId)
      await waitFor('B to hear of the blob A added', () => lists(b, fromA.blobId, aId), GOSSIP_MS)
      await b.fetcher.fetch(fromB.blobId)
      await waitFor('A to hear of the blob B added', () => lists(a, fromB.blobId, bId), GOSSIP_MS)
    } finally {
      await stopNodes(nodes)
    }
  })
})
