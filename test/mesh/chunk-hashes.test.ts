import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { blobIdFromBytes } from '../../src/blob/blob-id.js'
import { chunkTreeOfBytes, toHex } from '../../src/blob/chunk-tree.js'
import { fetchChunkHashes, type ChunkHashSources } from '../../src/mesh/chunk-hashes.js'
import type { BlobDescription } from '../../src/mesh/fetch-types.js'
import { PeerScores } from '../../src/mesh/peer-scores.js'

const CHUNK = 1024
const bytes = randomBytes(CHUNK * 5 + 7)
const tree = chunkTreeOfBytes(bytes, CHUNK)
const hashes = Buffer.concat(tree.leaves)
const description: BlobDescription = { blobId: blobIdFromBytes(randomBytes(32)), size: bytes.length, chunkSize: CHUNK, chunkRoot: toHex(tree.root), chunkHashesBlobId: blobIdFromBytes(randomBytes(32)) }

/** A peer that answers after `ms` with `answer`, and records whether its request was called off. */
async function sources (peerMs: number, answer: Uint8Array, walrusMs = 0): Promise<ChunkHashSources & { walrusReads: () => number, peerAborted: () => boolean, scores: PeerScores, peerId: string }> {
  const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  let walrusReads = 0
  let peerAborted = false
  const scores = new PeerScores()
  return {
    peerId,
    scores,
    providers: [{ peerId, state: 'holder' }],
    client: {
      hashes: async (_peer, _blobId, options) => {
        try {
          await sleep(peerMs, undefined, { signal: options?.signal })
        } catch (err) {
          peerAborted = true
          throw err
        }
        return { hashes: answer } as Awaited<ReturnType<ChunkHashSources['client']['hashes']>>
      }
    },
    walrus: {
      readRange: async (_blobId, range, options) => {
        walrusReads++
        await sleep(walrusMs, undefined, { signal: options?.signal })
        return new Uint8Array(hashes.subarray(range.start, range.end + 1))
      }
    },
    onWalrusBytes: () => {},
    walrusReads: () => walrusReads,
    peerAborted: () => peerAborted
  }
}

const same = (leaves: Uint8Array[]): boolean => Buffer.concat(leaves).equals(hashes)

describe('chunk hashes', () => {
  it('of a one-chunk blob are its root, asked of no one', async () => {
    const one = randomBytes(CHUNK - 3)
    const oneTree = chunkTreeOfBytes(one, CHUNK)
    const s = await sources(5, hashes)
    let peerAsked = false
    s.client = { hashes: async () => { peerAsked = true; throw new Error('not asked') } }
    const leaves = await fetchChunkHashes(s, { ...description, size: one.length, chunkRoot: toHex(oneTree.root) }, 0, AbortSignal.timeout(5_000))
    assert.deepEqual(leaves.map(toHex), oneTree.leaves.map(toHex))
    assert.equal(s.walrusReads(), 0)
    assert.equal(peerAsked, false)
    // The root still has to be 32 bytes: a registry entry with a short one is refused as the hashes of a longer blob are.
    await assert.rejects(fetchChunkHashes(s, { ...description, size: one.length, chunkRoot: 'ab'.repeat(31) }, 0, AbortSignal.timeout(5_000)))
  })

  it('take a quick peer\'s answer and leave Walrus alone', async () => {
    const s = await sources(5, hashes)
    assert.ok(same(await fetchChunkHashes(s, description, 500, AbortSignal.timeout(5_000))))
    assert.equal(s.walrusReads(), 0)
  })

  it('ask Walrus too when the peer is slow, take the first valid answer and call the other off', async () => {
    const s = await sources(10_000, hashes)
    const started = performance.now()
    assert.ok(same(await fetchChunkHashes(s, description, 50, AbortSignal.timeout(5_000))))
    assert.ok(performance.now() - started < 5_000, 'not the slow peer\'s answer')
    assert.equal(s.walrusReads(), 1)
    await sleep(20)
    assert.equal(s.peerAborted(), true)
  })

  it('ask the next peer when the first is silent, before Walrus, and call the silent one off', async () => {
    const s = await sources(0, hashes)
    const silent = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    let silentAborted = false
    const honest = s.client.hashes
    s.providers = [{ peerId: silent, state: 'holder' }, { peerId: s.peerId, state: 'holder' }]
    s.client = {
      hashes: async (peer, blobId, options) => {
        if (peer.toString() !== silent) return honest(peer, blobId, options)
        try {
          await sleep(60_000, undefined, { signal: options?.signal })
        } catch (err) {
          silentAborted = true
          throw err
        }
        throw new Error('unreachable')
      }
    }
    // A hedge of 2 s to Walrus: the second peer, asked a quarter of it after the first, answers long before.
    assert.ok(same(await fetchChunkHashes(s, description, 2_000, AbortSignal.timeout(10_000))))
    assert.equal(s.walrusReads(), 0)
    await sleep(20)
    assert.equal(silentAborted, true)
  })

  it('score down a peer whose hashes do not give the root, and take Walrus\'s', async () => {
    const s = await sources(5, randomBytes(hashes.length))
    assert.ok(same(await fetchChunkHashes(s, description, 500, AbortSignal.timeout(5_000))))
    assert.equal(s.walrusReads(), 1)
    assert.ok(s.scores.score(s.peerId) < 0)
  })

  it('fail with Walrus\'s error when no source has them, and honour the caller\'s abort', async () => {
    const s = await sources(5, randomBytes(hashes.length))
    s.walrus = { readRange: async () => { throw new Error('Walrus is down') } }
    await assert.rejects(fetchChunkHashes(s, description, 500, AbortSignal.timeout(5_000)), /Walrus is down/)
    const slow = await sources(10_000, hashes, 10_000)
    const started = performance.now()
    await assert.rejects(fetchChunkHashes(slow, description, 50, AbortSignal.timeout(200)), (err: Error) => ['AbortError', 'TimeoutError'].includes(err.name))
    assert.ok(performance.now() - started < 5_000, 'at the abort, not when the sources would have answered')
  })
})
