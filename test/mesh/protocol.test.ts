import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { blobIdFromBytes } from '../../src/blob/blob-id.js'
import { decodeAnnouncement, digestOf, encodeAnnouncement } from '../../src/mesh/announcement-codec.js'
import { BlobClient } from '../../src/mesh/blob-client.js'
import { CACHE_TOPIC, MAX_ANNOUNCEMENT_BYTES } from '../../src/mesh/constants.js'
import { createMeshLibp2p, type MeshLibp2p } from '../../src/mesh/libp2p.js'
import { CacheAnnouncement } from '../../src/mesh/pb/announcement.js'
import { meshForSuite, randomModel, waitFor } from '../helpers/mesh.js'

const id = () => blobIdFromBytes(randomBytes(32))

describe('cache announcements: encoding and checks', () => {
  it('round-trips an announcement with a digest that answers for the blobs it covers', () => {
    const held = Array.from({ length: 50 }, id)
    const bytes = encodeAnnouncement({ seq: 7n, time: 1000, added: [held[0]!], dropped: [], fetching: [held[1]!], digest: digestOf(held), load: { downloads: 1, uploads: 2, inferQueue: 0, sessionsWarm: 0, warm: [held[2]!] } })
    const decoded = decodeAnnouncement(bytes)
    assert.equal(decoded.seq, 7n)
    assert.deepEqual(decoded.added, [held[0]])
    assert.deepEqual(decoded.fetching, [held[1]])
    assert.equal(decoded.fetchingSince, undefined, 'a publisher that does not say when its downloads began')
    assert.deepEqual(decoded.load?.warm, [held[2]])
    const since = decodeAnnouncement(encodeAnnouncement({ seq: 8n, time: 5_000, added: [], dropped: [], fetching: [held[1]!, held[3]!], fetchingSince: [4_000, 5_000] }))
    assert.deepEqual(since.fetchingSince, [4_000, 5_000])
    assert.ok(held.every(b => decoded.digest?.filter.has(b) === true))
    const strangers = Array.from({ length: 2000 }, id).filter(b => decoded.digest?.filter.has(b) === true)
    assert.ok(strangers.length < 60, `${strangers.length} false positives in 2000 (aiming at 1%)`)
  })

  it('rejects malformed and oversized announcements, naming the problem', () => {
    assert.throws(() => decodeAnnouncement(new Uint8Array(MAX_ANNOUNCEMENT_BYTES + 1)), { name: 'MeshProtocolError', message: /over the 65536-byte limit/ })
    assert.throws(() => decodeAnnouncement(new Uint8Array([0xff, 0xff, 0xff])), { name: 'MeshProtocolError', message: /not a valid CacheAnnouncement/ })
    assert.throws(() => decodeAnnouncement(new Uint8Array(0)), { name: 'MeshProtocolError', message: /no sequence number/ })
    const shortId = CacheAnnouncement.encode({ seq: 1n, time: 1n, added: [new Uint8Array(31)], dropped: [], fetching: [] })
    assert.throws(() => decodeAnnouncement(shortId), { name: 'MeshProtocolError', message: /added\[0\] is 31 bytes/ })
    const tooMany = CacheAnnouncement.encode({ seq: 1n, time: 1n, added: Array.from({ length: 300 }, () => new Uint8Array(32)), dropped: [], fetching: [] })
    assert.throws(() => decodeAnnouncement(tooMany), { name: 'MeshProtocolError' })
    const tooManyWarm = CacheAnnouncement.encode({ seq: 1n, time: 1n, added: [], dropped: [], fetching: [], load: { downloads: 0, uploads: 0, inferQueue: 0, sessionsWarm: 0, warm: Array.from({ length: 33 }, () => new Uint8Array(32)) } })
    assert.throws(() => decodeAnnouncement(tooManyWarm), { name: 'MeshProtocolError' })
    const shortWarm = CacheAnnouncement.encode({ seq: 1n, time: 1n, added: [], dropped: [], fetching: [], load: { downloads: 0, uploads: 0, inferQueue: 0, sessionsWarm: 0, warm: [new Uint8Array(5)] } })
    assert.throws(() => decodeAnnouncement(shortWarm), { name: 'MeshProtocolError', message: /load\.warm\[0\] is 5 bytes/ })
    const badDigest = CacheAnnouncement.encode({ seq: 1n, time: 1n, added: [], dropped: [], fetching: [], digest: { count: 1, bits: 64, hashes: 3, filter: new Uint8Array(4) } })
    assert.throws(() => decodeAnnouncement(badDigest), { name: 'MeshProtocolError', message: /digest says 64 bits but carries 4 bytes/ })
    const fetching = [new Uint8Array(32), new Uint8Array(32)]
    const sinceFor = (fetchingSince: bigint[]): Uint8Array => CacheAnnouncement.encode({ seq: 1n, time: 100_000_000n, added: [], dropped: [], fetching, fetchingSince })
    assert.throws(() => decodeAnnouncement(sinceFor([99_000_000n])), { name: 'MeshProtocolError', message: /fetchingSince has 1 entries for 2 in fetching/ })
    assert.throws(() => decodeAnnouncement(sinceFor([99_000_000n, 100_000_001n])), { name: 'MeshProtocolError', message: /fetchingSince\[1\] is after the announcement's time/ })
    assert.throws(() => decodeAnnouncement(sinceFor([1n, 99_000_000n])), { name: 'MeshProtocolError', message: /fetchingSince\[0\] is more than 86400000 ms before/ })
  })
})

describe('the mesh protocols against a live node', () => {
  const mesh = meshForSuite({ nodes: 1 })
  let stranger: MeshLibp2p

  before(async () => {
    stranger = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], privateNetwork: true })
    mesh.defer(async () => stranger.stop())
    await stranger.start()
    await stranger.dial(mesh.node.libp2p.getMultiaddrs())
  })

  it('drops a malformed gossip message at the topic validator, and keeps serving', async () => {
    const node = mesh.node
    stranger.services.pubsub.subscribe(CACHE_TOPIC)
    await waitFor('the node to see the stranger on the topic', () => node.libp2p.services.pubsub.getSubscribers(CACHE_TOPIC).length === 1)
    await waitFor('the stranger to see the node on the topic', () => stranger.services.pubsub.getSubscribers(CACHE_TOPIC).length === 1)
    await stranger.services.pubsub.publish(CACHE_TOPIC, new Uint8Array([0xff, 0xff, 0xff]))
    const liar = id()
    await stranger.services.pubsub.publish(CACHE_TOPIC, CacheAnnouncement.encode({ seq: 1n, time: 1n, added: [new Uint8Array(5)], dropped: [], fetching: [] }))
    await waitFor('both messages to be rejected', () => node.status().gossip.rejected >= 2)
    assert.equal(node.status().gossip.received, 0)
    assert.equal(node.providers.providers(liar).length, 0)
    assert.equal(node.providers.stats().blobs, 0)
    // A well-formed one from the same peer is still taken.
    const real = id()
    await stranger.services.pubsub.publish(CACHE_TOPIC, encodeAnnouncement({ seq: BigInt(Date.now()), time: Date.now(), added: [real], dropped: [], fetching: [] }))
    await waitFor('the valid announcement to land', () => node.providers.providers(real).length === 1)
  })

  it('answers blob requests out of range or for unknown blobs with a status, not a hang', async () => {
    const node = mesh.node
    const { blobId } = await mesh.devnet.publish(randomModel(100_000), { chunkSize: 16 * 1024 })
    await node.fetcher.fetch(blobId)
    const client = new BlobClient({ dialProtocol: async (peer, protocol, options) => stranger.dialProtocol(peer, protocol, options) })
    const signal = AbortSignal.timeout(10_000)
    const hashes = await client.hashes(node.peerId, blobId, { signal })
    assert.equal(hashes.hashes.byteLength, 7 * 32)
    assert.equal(hashes.complete, true)
    const got: number[] = []
    assert.deepEqual(await client.chunks(node.peerId, blobId, 2, 3, async index => { got.push(index) }, { signal }), [2, 3, 4])
    await assert.rejects(client.chunks(node.peerId, blobId, 6, 2, async () => {}, { signal }), { name: 'PeerRefusedError', status: 'BAD_REQUEST' })
    await assert.rejects(client.chunks(node.peerId, blobId, 0, 1000, async () => {}, { signal }), { name: 'PeerRefusedError', status: 'BAD_REQUEST' })
    await assert.rejects(client.have(node.peerId, id(), { signal }), { name: 'PeerRefusedError', status: 'NOT_FOUND' })
    assert.ok(node.status().serve.refused >= 2)
  })
})
