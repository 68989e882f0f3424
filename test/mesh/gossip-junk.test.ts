import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { decodeAnnouncement, digestOf, encodeAnnouncement } from '../../src/mesh/announcement-codec.js'
import { blobIdFromBytes } from '../../src/blob/blob-id.js'
import { randomBytes } from 'node:crypto'
import { CACHE_TOPIC, MAX_ANNOUNCED_IDS, MAX_DIGEST_COUNT, MAX_DIGEST_FILTER_BYTES, MAX_PROVIDER_RECORDS_PER_PEER } from '../../src/mesh/constants.js'
import { createMeshLibp2p } from '../../src/mesh/libp2p.js'
import { CacheAnnouncement } from '../../src/mesh/pb/announcement.js'
import { DISTRUST_THRESHOLD, PeerScores, REJECTED_MESSAGE_PENALTY, SCORE_HALF_LIFE_MS } from '../../src/mesh/peer-scores.js'
import { ProviderIndex } from '../../src/mesh/provider-index.js'
import { BlobDigest } from '../../src/mesh/blob-digest.js'
import type { HerdNode } from '../../src/node.js'
import { devnetForSuite, randomModel, startNodes, stopNodes, waitFor } from '../helpers/mesh.js'

/** The gossipsub score a node gives a peer (not on the GossipSub interface, but on the class behind it). */
function gossipScore (node: HerdNode, peerId: string): number {
  return (node.libp2p.services.pubsub as unknown as { getScore: (id: string) => number }).getScore(peerId)
}

describe('gossip junk is punished', () => {
  const suite = devnetForSuite()

  it('a peer that sent rejected announcements is scored down by gossipsub and herd, and its forged announcement is not used', async () => {
    const { blobId } = await suite.devnet.publish(randomModel(64 * 1024))
    const nodes = await startNodes(1, join(suite.dir, 'junk'), suite.devnet)
    const [node] = nodes as [HerdNode]
    const junk = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], privateNetwork: true, allow: ['/ip4/127.0.0.1'] })
    try {
      await junk.start()
      junk.services.pubsub.subscribe(CACHE_TOPIC)
      await junk.dial(node.libp2p.getMultiaddrs())
      const junkId = junk.peerId.toString()
      await waitFor('each to see the other on the cache topic', () =>
        node.libp2p.services.pubsub.getSubscribers(CACHE_TOPIC).some(p => p.toString() === junkId) &&
        junk.services.pubsub.getSubscribers(CACHE_TOPIC).some(p => p.equals(node.peerId)))
      // Signed, well-formed protobuf, but with a 5-byte blob ID: the topic validator rejects each.
      for (let i = 1; i <= 20; i++) {
        const data = CacheAnnouncement.encode({ seq: BigInt(i), time: BigInt(Date.now()), added: [new Uint8Array(5)], dropped: [], fetching: [] })
        await junk.services.pubsub.publish(CACHE_TOPIC, data)
        await sleep(10)
      }
      await waitFor('the node to reject the junk', () => node.status().gossip.rejected >= 1)
      await waitFor('gossipsub to score the junk sender down', () => gossipScore(node, junkId) < 0, 10_000)
      assert.ok(node.scores.score(junkId) < 0, `herd scores the signer down (score ${node.scores.score(junkId)})`)
      // A valid announcement now: the blob is registered, the junk sender never held it.
      const forged = encodeAnnouncement({ seq: 1_000n, time: Date.now(), added: [blobId], dropped: [], fetching: [] })
      const deadline = Date.now() + 2_000
      let seq = 1_000n
      while (Date.now() < deadline) {
        await junk.services.pubsub.publish(CACHE_TOPIC, seq === 1_000n ? forged : encodeAnnouncement({ seq, time: Date.now(), added: [blobId], dropped: [], fetching: [] })).catch(() => {})
        seq += 1n
        await sleep(200)
        assert.equal(node.providers.providers(blobId).some(p => p.peerId === junkId), false, 'the forged announcement was used')
      }
      assert.ok(gossipScore(node, junkId) < 0)
    } finally {
      await junk.stop()
      await stopNodes(nodes)
    }
  })

  it('a digest that claims more blobs than its count, or too many, is refused; an honest one passes', () => {
    const ids = Array.from({ length: 1_000 }, () => blobIdFromBytes(new Uint8Array(randomBytes(32))))
    const base = { seq: 1n, time: Date.now(), added: [], dropped: [], fetching: [] }
    const honest = decodeAnnouncement(encodeAnnouncement({ ...base, digest: digestOf(ids) }))
    assert.equal(honest.digest?.count, 1_000)
    assert.ok(ids.every(id => honest.digest?.filter.has(id)))
    const full = new Uint8Array(MAX_DIGEST_FILTER_BYTES).fill(0xff)
    assert.throws(() => decodeAnnouncement(encodeAnnouncement({ ...base, digest: { count: 1, bits: full.byteLength * 8, hashes: 8, filter: full } })), { name: 'MeshProtocolError' })
    // Claiming a large count does not make a full filter believable: past MAX_DIGEST_COUNT nothing is.
    assert.throws(() => decodeAnnouncement(encodeAnnouncement({ ...base, digest: { count: MAX_DIGEST_COUNT + 1, bits: full.byteLength * 8, hashes: 1, filter: full } })), { name: 'MeshProtocolError' })
    // A thousand blobs' worth of bits set, announced as ten.
    const padded = digestOf(ids)
    assert.throws(() => decodeAnnouncement(encodeAnnouncement({ ...base, digest: { ...padded, count: 10 } })), { name: 'MeshProtocolError' })
  })

  it('herd stops believing a peer past the rejection bound, and believes it again once its score has decayed', () => {
    let now = 0
    const scores = new PeerScores({ now: () => now })
    const peer = 'peer'
    const bound = Math.ceil(DISTRUST_THRESHOLD / REJECTED_MESSAGE_PENALTY)
    for (let i = 0; i < bound - 1; i++) scores.rejectedMessage(peer, 'junk')
    assert.equal(scores.believes(peer), true, `${bound - 1} rejected messages are within the bound`)
    scores.rejectedMessage(peer, 'junk')
    scores.rejectedMessage(peer, 'junk')
    assert.equal(scores.believes(peer), false, 'past the bound the peer is not believed')
    now += 3 * SCORE_HALF_LIFE_MS
    assert.equal(scores.believes(peer), true, 'three half-lives later it is believed again')
    assert.equal(scores.penalized()[0]?.rejectedMessages, bound + 1)
  })

  it('a flood of valid announcements from one peer is held to its bound, and another peer is still heard', async () => {
    const nodes = await startNodes(1, join(suite.dir, 'flood'), suite.devnet)
    const [node] = nodes as [HerdNode]
    const peers = await Promise.all([0, 1].map(async () => createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], privateNetwork: true, allow: ['/ip4/127.0.0.1'] })))
    const [flooder, honest] = peers as [typeof peers[0], typeof peers[0]]
    try {
      for (const peer of peers) {
        await peer.start()
        peer.services.pubsub.subscribe(CACHE_TOPIC)
        await peer.dial(node.libp2p.getMultiaddrs())
        await waitFor('the node and the peer to see each other on the cache topic', () =>
          node.libp2p.services.pubsub.getSubscribers(CACHE_TOPIC).some(p => p.equals(peer.peerId)) &&
          peer.services.pubsub.getSubscribers(CACHE_TOPIC).some(p => p.equals(node.peerId)))
      }
      const newIds = (): ReturnType<typeof blobIdFromBytes>[] => Array.from({ length: MAX_ANNOUNCED_IDS }, () => blobIdFromBytes(new Uint8Array(randomBytes(32))))
      // Each announcement is valid and names blobs no one announced before: only the bound stops the index growing.
      const messages = Math.ceil(MAX_PROVIDER_RECORDS_PER_PEER / MAX_ANNOUNCED_IDS) + 4
      const receivedBefore = node.status().gossip.received
      for (let i = 1; i <= messages; i++) {
        await flooder.services.pubsub.publish(CACHE_TOPIC, encodeAnnouncement({ seq: BigInt(i), time: Date.now(), added: newIds(), dropped: [], fetching: [] }))
      }
      await waitFor('the node to receive the flood', () => node.status().gossip.received >= receivedBefore + messages, 30_000)
      assert.equal(node.providers.stats().records, MAX_PROVIDER_RECORDS_PER_PEER)
      const [heard] = newIds() as [ReturnType<typeof blobIdFromBytes>]
      await honest.services.pubsub.publish(CACHE_TOPIC, encodeAnnouncement({ seq: 1n, time: Date.now(), added: [heard], dropped: [], fetching: [] }))
      await waitFor('the node to record the other peer', () => node.providers.providers(heard).some(p => p.peerId === honest.peerId.toString()))
    } finally {
      await Promise.allSettled(peers.map(async peer => { await peer.stop() }))
      await stopNodes(nodes)
    }
  })

  it('the provider index bounds records in all and digests, and makes room as records go', () => {
    let now = 0
    const index = new ProviderIndex({ ttlMs: 1_000, now: () => now, maxRecordsPerPeer: 3, maxRecords: 5, maxDigests: 2 })
    const ids = Array.from({ length: 8 }, () => blobIdFromBytes(new Uint8Array(randomBytes(32))))
    assert.deepEqual(ids.slice(0, 4).map(id => index.set('a', id, 'holder')), [true, true, true, false])
    // A record refreshed is not a new one.
    assert.equal(index.set('a', ids[0] as string, 'fetching'), true)
    assert.deepEqual(ids.slice(0, 3).map(id => index.set('b', id, 'holder')), [true, true, false])
    assert.equal(index.set('c', ids[5] as string, 'holder'), false, 'past the bound in all')
    index.drop('a', ids[0] as string)
    assert.equal(index.set('c', ids[5] as string, 'holder'), true, 'a dropped record makes room')
    now += 1_001
    index.prune()
    assert.equal(index.stats().records, 0)
    assert.equal(index.set('a', ids[6] as string, 'holder'), true, 'expired records make room')
    const digest = BlobDigest.forCount(ids.length, 0.01, MAX_DIGEST_FILTER_BYTES)
    assert.deepEqual(['a', 'b', 'c'].map(peer => index.setDigest(peer, digest, ids.length)), [true, true, false])
    assert.equal(index.setDigest('a', digest, ids.length), true, 'a digest refreshed is not a new one')
    assert.equal(index.stats().refused, 4)
  })
})
