import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { blobIdFromBytes } from '../src/blob/blob-id.js'
import { resolveConfig } from '../src/cli/resolve-config.js'
import { SuiLedger } from '../src/chain/sui-ledger.js'
import { buildServices } from '../src/node-services.js'
import { WalrusHttpClient } from '../src/walrus/http-client.js'
import { NetworkWalrusStore } from '../src/walrus/network-store.js'
import { WalrusSdkStore } from '../src/walrus/sdk-store.js'
import type { PutOptions } from '../src/walrus/types.js'
import { startLocalWalrus, tempDir } from './helpers/devnet.js'

/** Every request a client makes through fetch is recorded and refused: nothing leaves the machine. */
async function withRecordedFetch<T> (run: (urls: string[]) => Promise<T>): Promise<T> {
  const original = globalThis.fetch
  const urls: string[] = []
  globalThis.fetch = async (input: string | URL | Request) => {
    urls.push(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url)
    throw new TypeError('fetch failed: no network in this test')
  }
  try {
    return await run(urls)
  } finally {
    globalThis.fetch = original
  }
}

describe('a node\'s services, built from its config alone', () => {
  it('gives a --network testnet node a SuiLedger on the profile\'s gRPC and GraphQL URLs, and the testnet aggregator and publisher', async () => {
    const key = Ed25519Keypair.generate()
    const config = await resolveConfig({ network: 'testnet', env: {}, flags: { dataDir: '/nonexistent/herd' } })
    await withRecordedFetch(async urls => {
      const services = await buildServices(config, key)
      try {
        assert.equal(services.network, 'testnet')
        assert.ok(services.ledger instanceof SuiLedger, 'the ledger is Sui')
        assert.equal(services.ledger.client, services.sui?.grpc, 'the ledger reads and writes through the gRPC client built here')
        await assert.rejects(services.sui!.grpc.ledgerService.getServiceInfo({}).response)
        await assert.rejects(services.sui!.graphql.getBalance({ owner: key.toSuiAddress() }))
        assert.ok(urls.some(url => url.startsWith('https://fullnode.testnet.sui.io')), urls.join(' '))
        assert.ok(urls.some(url => url === 'https://graphql.testnet.sui.io/graphql'), urls.join(' '))

        assert.ok(services.walrus instanceof NetworkWalrusStore)
        assert.deepEqual(services.walrus.readers.map(r => r.aggregator?.href), ['https://aggregator.walrus-testnet.walrus.space/'])
        assert.equal(services.walrus.writeMode, 'publisher')
        assert.ok(services.walrus.writer instanceof WalrusHttpClient)
        assert.equal(services.walrus.publisher?.href, 'https://publisher.walrus-testnet.walrus.space/')
        assert.equal(typeof services.balances, 'function')

        // The storage keeper's epoch and blob lifetimes come from Sui even when writes go through a publisher: aggregators say neither.
        assert.ok(services.walrus.onChain instanceof WalrusSdkStore)
        urls.length = 0
        await assert.rejects(services.walrus.epoch())
        await assert.rejects(services.walrus.lifetime(blobIdFromBytes(randomBytes(32))))
        assert.ok(urls.length > 0 && urls.every(url => url.startsWith('https://fullnode.testnet.sui.io')), urls.join(' '))
      } finally {
        await Promise.all([services.ledger.close(), services.walrus.close()])
      }
    })
  })

  it('writes mainnet blobs, and testnet ones given a relay, with the Walrus SDK and the node key', async () => {
    const config = await resolveConfig({ network: 'mainnet', env: {}, flags: { dataDir: '/nonexistent/herd' } })
    const services = await buildServices(config, Ed25519Keypair.generate())
    try {
      assert.ok(services.ledger instanceof SuiLedger)
      assert.equal(services.walrus.writeMode, 'sdk')
      assert.ok(services.walrus.writer instanceof WalrusSdkStore)
      assert.equal(services.walrus.onChain, services.walrus.writer, 'one SDK store writes and reads Sui')
      assert.deepEqual(services.walrus.readers.map(r => r.aggregator?.href), ['https://aggregator.walrus-mainnet.walrus.space/'])
    } finally {
      await Promise.all([services.ledger.close(), services.walrus.close()])
    }
    const relayed = await buildServices(await resolveConfig({ network: 'testnet', env: { HERD_UPLOAD_RELAY: 'https://upload-relay.testnet.walrus.space' }, flags: { dataDir: '/nonexistent/herd' } }), Ed25519Keypair.generate())
    assert.equal(relayed.walrus.writeMode, 'sdk', 'a relay, once set, carries the writes')
    assert.ok(relayed.walrus.writer instanceof WalrusSdkStore)
    await Promise.all([relayed.ledger.close(), relayed.walrus.close()])
  })

  it('reads from the aggregators in turn and writes with the config\'s epochs, owned by the node', async () => {
    await using dir = await tempDir()
    const empty = await startLocalWalrus(join(dir.path, 'empty'))
    const full = await startLocalWalrus(join(dir.path, 'full'))
    const file = join(dir.path, 'blob')
    const bytes = randomBytes(5000)
    await writeFile(file, bytes)
    const publisher = new WalrusHttpClient({ publisher: full.url })
    const { blobId } = await publisher.putFile(file)
    await publisher.close()
    // Refused connections: an aggregator that is down.
    const down = new WalrusHttpClient({ aggregator: 'http://127.0.0.1:1', retries: 0 })
    const seen: PutOptions[] = []
    const store = new NetworkWalrusStore({
      readers: [down, new WalrusHttpClient({ aggregator: empty.url, retries: 0 }), new WalrusHttpClient({ aggregator: full.url, retries: 0 })],
      writer: {
        putFile: async (_path, options = {}) => { seen.push(options); return { blobId, status: 'alreadyCertified' } },
        putBytes: async (_bytes, options = {}) => { seen.push(options); return { blobId, status: 'alreadyCertified' } }
      },
      writeMode: 'publisher',
      epochs: 7,
      owner: `0x${'cd'.repeat(32)}`
    })
    try {
      assert.deepEqual(Buffer.from(await store.readRange(blobId, { start: 10, end: 19 })), bytes.subarray(10, 20))
      const out = join(dir.path, 'out')
      assert.deepEqual(await store.getToFile(blobId, out), { bytes: bytes.length })
      const missing = 'A'.repeat(43)
      await assert.rejects(new NetworkWalrusStore({ readers: [new WalrusHttpClient({ aggregator: empty.url, retries: 0 })], writer: { putFile: async () => { throw new Error('unused') }, putBytes: async () => { throw new Error('unused') } }, writeMode: 'publisher', epochs: 1 }).readRange(missing, { start: 0, end: 1 }), { name: 'BlobNotFoundError' })
      await assert.rejects(store.readRange(missing, { start: 0, end: 1 }), { name: 'RetryableWalrusError' }, 'one aggregator could not be asked: not known to be missing')
      await store.putFile(file)
      await store.putFile(file, { epochs: 2 })
      await store.putBytes(bytes, { share: true })
      assert.deepEqual(seen.map(o => [o.epochs, o.sendObjectTo]), [[7, `0x${'cd'.repeat(32)}`], [2, `0x${'cd'.repeat(32)}`], [7, undefined]], 'a shared blob is sent to no owner')
    } finally {
      await store.close()
      await Promise.all([empty.stop(), full.stop()])
    }
  })
})
