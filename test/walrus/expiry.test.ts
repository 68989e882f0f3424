import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { extendMessage } from '../../src/walrus/extend-message.js'
import { WalrusHttpClient } from '../../src/walrus/http-client.js'
import type { LocalWalrus } from '../../src/walrus/local/server.js'
import { startLocalWalrus, tempDir } from '../helpers/devnet.js'

function client (url: string, signer?: Ed25519Keypair): WalrusHttpClient {
  return new WalrusHttpClient({ publisher: url, aggregator: url, retryBaseDelayMs: 5, retryMaxDelayMs: 20, ...(signer != null ? { signer } : {}) })
}

/** Waits for the sweep to have reclaimed `count` blobs; bounded so a broken sweep fails the test instead of hanging it. */
async function untilExpired (walrus: LocalWalrus, count: number): Promise<void> {
  for (let i = 0; i < 600 && walrus.stats.expired < count; i++) await sleep(50)
  assert.equal(walrus.stats.expired, count, 'the sweep reclaimed the blobs')
}

describe('local Walrus epochs', () => {
  it('serves a blob until its end epoch, then answers 404 and reclaims its bytes, durably', async () => {
    await using dir = await tempDir()
    let walrus = await startLocalWalrus(dir.path, { epochMs: 300 })
    const http = client(walrus.url)
    try {
      const short = await http.putBytes(randomBytes(4000), { epochs: 1 })
      const long = await http.putBytes(randomBytes(3000), { epochs: 50 })
      const epoch = await http.epoch()
      assert.equal(epoch.epochMs, 300)
      assert.ok(short.endEpoch != null && short.endEpoch > epoch.epoch - 1)
      await untilExpired(walrus, 1)
      assert.ok((await http.epoch()).epoch >= short.endEpoch!, 'the epoch moved past the end epoch')

      const response = await fetch(`${walrus.url}/v1/blobs/${short.blobId}`)
      assert.equal(response.status, 404)
      assert.equal(((await response.json()) as any).error.details[0].reason, 'BLOB_NOT_FOUND')
      await assert.rejects(http.readRange(short.blobId, { start: 0, end: 9 }), { name: 'BlobNotFoundError' })
      assert.equal((await http.readRange(long.blobId, { start: 0, end: 9 })).length, 10, 'the blob with epochs left is still served')
      const stats = await (await fetch(`${walrus.url}/herd/v1/stats`)).json() as any
      assert.equal(stats.expired, 1)
      assert.deepEqual(stats.stored, { blobs: 1, bytes: 3000 })
      assert.deepEqual((await readdir(join(dir.path, 'blobs'))).filter(name => !name.endsWith('.json')), [long.blobId], 'the bytes are gone from disk')
      assert.deepEqual(await http.lifetime(short.blobId), { blobId: short.blobId, objectId: short.objectId, size: 4000, endEpoch: short.endEpoch, shared: false, expired: true })

      await walrus.stop()
      walrus = await startLocalWalrus(dir.path, { epochMs: 300 })
      const again = client(walrus.url)
      assert.equal((await again.lifetime(short.blobId))?.expired, true, 'the end epoch survives a restart')
      assert.equal((await again.lifetime(long.blobId))?.endEpoch, long.endEpoch)
      assert.deepEqual(walrus.stats.stored, { blobs: 1, bytes: 3000 })
      await again.close()
    } finally {
      await http.close()
      await walrus.stop()
    }
  })

  it('stores an expired blob anew when it is uploaded again', async () => {
    await using dir = await tempDir()
    const walrus = await startLocalWalrus(dir.path, { epochMs: 200 })
    const http = client(walrus.url)
    try {
      const bytes = randomBytes(2000)
      const first = await http.putBytes(bytes, { epochs: 1 })
      await untilExpired(walrus, 1)
      const second = await http.putBytes(bytes, { epochs: 5 })
      assert.equal(second.status, 'newlyCreated')
      assert.equal(second.blobId, first.blobId)
      assert.equal((await http.readRange(second.blobId, { start: 0, end: 1999 })).length, 2000)
    } finally {
      await http.close()
      await walrus.stop()
    }
  })
})

describe('extending a blob on the local Walrus', () => {
  it('lets only the owner extend, once per signature, and anyone extend a shared blob', async () => {
    await using dir = await tempDir()
    const walrus = await startLocalWalrus(dir.path)
    const owner = Ed25519Keypair.generate()
    const other = Ed25519Keypair.generate()
    const mine = client(walrus.url, owner)
    const theirs = client(walrus.url, other)
    const anyone = client(walrus.url)
    try {
      const blob = await mine.putBytes(randomBytes(1000), { epochs: 2, sendObjectTo: owner.toSuiAddress() })
      const life = await mine.lifetime(blob.blobId)
      assert.equal(life?.owner, owner.toSuiAddress())
      const from = life!.endEpoch

      await assert.rejects(theirs.extend({ blobId: blob.blobId, currentEndEpoch: from, endEpoch: from + 3 }), { name: 'NotBlobOwnerError' })
      await assert.rejects(anyone.extend({ blobId: blob.blobId, currentEndEpoch: from, endEpoch: from + 3, shared: true }), { name: 'NotBlobOwnerError' }, 'no signature')
      assert.equal((await mine.lifetime(blob.blobId))?.endEpoch, from, 'refused extensions changed nothing')

      const extended = await mine.extend({ blobId: blob.blobId, currentEndEpoch: from, endEpoch: from + 3 })
      assert.equal(extended.endEpoch, from + 3)
      assert.ok((extended.cost ?? 0) > 0)
      assert.equal((await anyone.lifetime(blob.blobId))?.endEpoch, from + 3)

      // The same signed request sent again is refused: the blob no longer ends where it was signed for.
      const signature = (await owner.signPersonalMessage(extendMessage(blob.blobId, from, from + 3))).signature
      const replay = await fetch(`${walrus.url}/herd/v1/blobs/${blob.blobId}/extend`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ currentEndEpoch: from, endEpoch: from + 3, signature }) })
      assert.equal(replay.status, 409)
      assert.equal(((await replay.json()) as any).error.details[0].reason, 'STALE_END_EPOCH')
      await assert.rejects(mine.extend({ blobId: blob.blobId, currentEndEpoch: from, endEpoch: from + 6 }), { name: 'StaleEndEpochError' })
      await assert.rejects(mine.extend({ blobId: blob.blobId, currentEndEpoch: from + 3, endEpoch: from + 100 }), { name: 'WalrusRequestError', status: 400 }, 'past 53 epochs ahead')
      assert.equal(walrus.stats.extensions, 1)

      const kept = await anyone.putBytes(randomBytes(500), { epochs: 2 })
      await assert.rejects(mine.extend({ blobId: kept.blobId, currentEndEpoch: kept.endEpoch!, endEpoch: kept.endEpoch! + 1 }), { name: 'NotBlobOwnerError' }, 'the publisher kept the object')

      const shared = await anyone.putBytes(randomBytes(700), { epochs: 2, share: true })
      assert.equal((await anyone.lifetime(shared.blobId))?.shared, true)
      assert.equal((await anyone.extend({ blobId: shared.blobId, currentEndEpoch: shared.endEpoch!, endEpoch: shared.endEpoch! + 4, shared: true })).endEpoch, shared.endEpoch! + 4)
    } finally {
      await Promise.all([mine.close(), theirs.close(), anyone.close()])
      await walrus.stop()
    }
  })

  it('refuses to extend an expired blob', async () => {
    await using dir = await tempDir()
    const walrus = await startLocalWalrus(dir.path, { epochMs: 200 })
    const owner = Ed25519Keypair.generate()
    const http = client(walrus.url, owner)
    try {
      const blob = await http.putBytes(randomBytes(1000), { epochs: 1, sendObjectTo: owner.toSuiAddress() })
      await untilExpired(walrus, 1)
      await assert.rejects(http.extend({ blobId: blob.blobId, currentEndEpoch: blob.endEpoch!, endEpoch: blob.endEpoch! + 5 }), { name: 'BlobExpiredError' })
    } finally {
      await http.close()
      await walrus.stop()
    }
  })
})
