import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { MAINNET_WALRUS_PACKAGE_CONFIG, TESTNET_WALRUS_PACKAGE_CONFIG } from '@mysten/walrus'
import { loadProfile, profilePath } from '../src/cli/profiles.js'
import { redactConfig, resolveConfig } from '../src/cli/resolve-config.js'
import { DEFAULT_API_PORT } from '../src/api/constants.js'
import { DEFAULT_QUOTA_BYTES } from '../src/blob/cache/constants.js'
import * as inference from '../src/inference/constants.js'
import { DIGEST_INTERVAL_MS, PROVIDER_TTL_MS } from '../src/mesh/constants.js'
import * as proofs from '../src/proof/constants.js'
import { bundleByteBudget, bundleWritesAtOnce, parseNodeConfig, PUBLISHER_WRITES_AT_ONCE, SDK_MAX_BUNDLE_BYTES } from '../src/node-config.js'
import { DEFAULT_MAX_BUNDLE_BYTES } from '../src/proof/constants.js'
import { tempDir } from './helpers/devnet.js'

const ADDRESS = `0x${'ab'.repeat(32)}`

describe('node config: profiles, precedence and validation', () => {
  it('takes the Walrus package objects of testnet and mainnet from @mysten/walrus, not from the profile files', async () => {
    for (const [network, expected] of [['testnet', TESTNET_WALRUS_PACKAGE_CONFIG], ['mainnet', MAINNET_WALRUS_PACKAGE_CONFIG]] as const) {
      const text = await readFile(profilePath(network), 'utf8')
      assert.doesNotMatch(text, new RegExp(expected.systemObjectId.slice(2)), `${network}.json copies the system object by hand`)
      const config = await resolveConfig({ network, env: {} })
      assert.deepEqual(config.sui?.walrusPackage, expected, network)
      assert.equal(config.network, network)
    }
  })

  it('ships profiles with every endpoint a network needs', async () => {
    const testnet = await resolveConfig({ network: 'testnet', env: {} })
    assert.equal(testnet.sui?.url, 'https://fullnode.testnet.sui.io:443')
    assert.equal(testnet.sui?.graphqlUrl, 'https://graphql.testnet.sui.io/graphql')
    assert.deepEqual(testnet.walrus?.aggregator, ['https://aggregator.walrus-testnet.walrus.space'])
    assert.equal(testnet.walrus?.publisher, 'https://publisher.walrus-testnet.walrus.space')
    const mainnet = await resolveConfig({ network: 'mainnet', env: {} })
    assert.equal(mainnet.sui?.url, 'https://fullnode.mainnet.sui.io:443')
    assert.equal(mainnet.sui?.graphqlUrl, 'https://graphql.mainnet.sui.io/graphql')
    assert.equal(mainnet.walrus?.publisher, undefined, 'mainnet has no public publisher')
    assert.equal(mainnet.walrus?.write, 'sdk')
    assert.deepEqual(mainnet.registry.trustedPublishers, [])
    // Every bundle on Walrus costs about 63 MiB of encoded metadata and seconds of encoding at 1,000 shards, so real networks seal by the bundle's bytes or every 10 minutes, not every 256 receipts.
    for (const config of [testnet, mainnet]) assert.deepEqual([config.proofs.batchSize, config.proofs.intervalMs], [65_536, 600_000], config.network)
    const devnet = await resolveConfig({ env: {} })
    assert.deepEqual([devnet.proofs.batchSize, devnet.proofs.intervalMs], [256, 10_000], 'the devnet keeps the built-in defaults')
    assert.equal((await resolveConfig({ network: 'mainnet', env: {}, flags: { proofs: { intervalMs: 60_000 } } })).proofs.intervalMs, 60_000, 'an operator may still choose')
    assert.deepEqual(await loadProfile('devnet'), { network: 'devnet', bootstrap: [], registry: { trustedPublishers: [] } })
  })

  it('stays on the embedded devnet by default, as before', async () => {
    const config = await resolveConfig({ env: {} })
    assert.equal(config.network, 'devnet')
    assert.equal(config.walrus, undefined)
    assert.equal(config.ledger, undefined)
    assert.equal(config.sui, undefined)
  })

  it('layers defaults < profile < config file < HERD_* < flags', async () => {
    await using dir = await tempDir()
    const file = join(dir.path, 'node.json')
    await writeFile(file, JSON.stringify({
      network: 'testnet',
      sui: { graphqlUrl: 'https://graphql.example.org/graphql', url: 'https://file.example.org' },
      walrus: { publisher: 'https://file-publisher.example.org', epochs: 3 },
      cache: { quotaBytes: 1000 }
    }))
    const config = await resolveConfig({
      configFile: file,
      env: { HERD_SUI_URL: 'https://env.example.org', HERD_PUBLISHER: 'https://env-publisher.example.org', HERD_TRUSTED_PUBLISHERS: `${ADDRESS}, ${ADDRESS.toUpperCase().replace('0X', '0x')}` },
      flags: { walrus: { publisher: 'https://flag-publisher.example.org' }, dataDir: dir.path }
    })
    assert.equal(config.network, 'testnet', 'the file chose the profile')
    assert.deepEqual(config.walrus?.aggregator, ['https://aggregator.walrus-testnet.walrus.space'], 'from the profile')
    assert.equal(config.sui?.graphqlUrl, 'https://graphql.example.org/graphql', 'the file over the profile')
    assert.equal(config.walrus?.epochs, 3, 'from the file')
    assert.equal(config.cache.quotaBytes, 1000)
    assert.equal(config.sui?.url, 'https://env.example.org', 'HERD_SUI_URL over the file')
    assert.equal(config.walrus?.publisher, 'https://flag-publisher.example.org', 'the flag over HERD_PUBLISHER')
    assert.deepEqual(config.registry.trustedPublishers, [ADDRESS, ADDRESS], 'addresses kept lower case')
    assert.deepEqual(config.inference.concurrency, 2, 'a built-in default')
    assert.equal(config.dataDir, dir.path)

    const chosen = await resolveConfig({ network: 'mainnet', configFile: file, env: { HERD_NETWORK: 'devnet' } })
    assert.equal(chosen.network, 'mainnet', '--network over HERD_NETWORK and the file')
    assert.equal((await resolveConfig({ configFile: file, env: { HERD_NETWORK: 'devnet' } }).catch(err => err)).name, 'NodeConfigError', 'the file\'s testnet sections are refused on the devnet')
  })

  it('writes several proof bundles at once through a publisher on testnet or mainnet by default, and through the SDK when asked', async () => {
    const testnet = await resolveConfig({ network: 'testnet', env: {} })
    assert.equal(bundleWritesAtOnce(testnet), PUBLISHER_WRITES_AT_ONCE, 'testnet\'s publisher pays for its writes, each of which takes seconds')
    assert.equal(bundleWritesAtOnce(await resolveConfig({ network: 'mainnet', env: {} })), 1, 'mainnet\'s profile writes through the SDK with the node\'s key')
    assert.equal(bundleWritesAtOnce(await resolveConfig({ env: {} })), 1, 'the devnet')
    assert.equal(bundleWritesAtOnce(await resolveConfig({ network: 'testnet', env: {}, flags: { proofs: { concurrentWrites: 2 } } })), 2, 'an operator may choose')
    assert.equal(bundleWritesAtOnce(await resolveConfig({ network: 'mainnet', env: {}, flags: { proofs: { concurrentWrites: 2 } } })), 2, 'the SDK\'s transactions take their turn with the key\'s others')
    await assert.rejects(resolveConfig({ network: 'testnet', env: {}, flags: { proofs: { concurrentWrites: 17 } } }), /proofs\.concurrentWrites/)
  })

  it('builds bundles under a publisher\'s upload limit, and larger ones where the SDK writes them and the node pays for each', async () => {
    assert.equal(DEFAULT_MAX_BUNDLE_BYTES, 8 * 1024 * 1024, 'under a publisher\'s 10 MiB')
    assert.equal(bundleByteBudget(await resolveConfig({ env: {} })), DEFAULT_MAX_BUNDLE_BYTES, 'the devnet, written as a publisher takes it')
    assert.equal(bundleByteBudget(await resolveConfig({ network: 'testnet', env: {} })), DEFAULT_MAX_BUNDLE_BYTES, 'testnet\'s profile writes through a publisher')
    assert.equal(bundleByteBudget(await resolveConfig({ network: 'mainnet', env: {} })), SDK_MAX_BUNDLE_BYTES, 'mainnet\'s profile writes through the SDK')
    assert.ok(SDK_MAX_BUNDLE_BYTES > DEFAULT_MAX_BUNDLE_BYTES)
    assert.equal(bundleByteBudget(await resolveConfig({ network: 'testnet', env: {}, flags: { walrus: { write: 'sdk' } } })), SDK_MAX_BUNDLE_BYTES, 'testnet through the SDK')
    assert.equal(bundleByteBudget(await resolveConfig({ network: 'mainnet', env: {}, flags: { proofs: { maxBundleBytes: 4096 } } })), 4096, 'an operator may choose')
    assert.equal(bundleByteBudget(await resolveConfig({ env: {}, flags: { proofs: { maxBundleBytes: 64 * 1024 * 1024 } } })), 64 * 1024 * 1024)
  })

  it('refuses an unknown field, a malformed URL or address, and a network mismatch, naming the field', async () => {
    const refused = async (layer: Record<string, unknown>, network?: string): Promise<string> => {
      const err = await resolveConfig({ env: {}, flags: layer, ...(network != null ? { network } : {}) }).then(() => undefined, (e: Error) => e)
      assert.equal(err?.name, 'NodeConfigError', JSON.stringify(layer))
      return err.message
    }
    assert.match(await refused({ walrus: { aggregator: 'https://a.example.org', publsher: 'https://p.example.org' } }), /walrus: Unrecognized key: "publsher"/)
    assert.match(await refused({ colour: 'blue' }), /\(root\): Unrecognized key: "colour"/)
    assert.match(await refused({ sui: { url: 'fullnode.testnet.sui.io' } }, 'testnet'), /sui\.url:/)
    assert.match(await refused({ walrus: { aggregator: ['https://a.example.org', 'ftp://b.example.org'] } }, 'testnet'), /walrus\.aggregator/)
    assert.match(await refused({ registry: { trustedPublishers: ['0x1234'] } }), /registry\.trustedPublishers\.0: not a Sui address/)
    assert.match(await refused({ ledger: 'http://127.0.0.1:31416' }, 'testnet'), /ledger: a ledger URL is the devnet's/)
    assert.match(await refused({ walrus: { aggregator: 'https://a.example.org', write: 'sdk' } }), /walrus\.write/)
    assert.match(await refused({ walrus: { write: 'publisher', uploadRelay: { host: 'https://relay.example.org' } } }, 'testnet'), /walrus\.uploadRelay: an upload relay serves SDK writes/)
    assert.match(await refused({}, 'moonnet'), /--network: network must be one of devnet, testnet, mainnet/)
    assert.match(await refused({ proofs: { durability: 'eventually' } }), /proofs\.durability/)
    assert.match(await refused({ proofs: { maxUnsynced: 0 } }), /proofs\.maxUnsynced/)
    assert.match(await refused({ proofs: { syncIntervalMs: 5_000 } }), /proofs\.syncIntervalMs/)
    assert.match(await refused({ inference: { inlineMaxRunMs: -1 } }), /inference\.inlineMaxRunMs/)
    assert.match(await refused({ mesh: { uploadBytesPerSec: 1000 } }), /mesh\.uploadBytesPerSec/)
    assert.match(await refused({ mesh: { uploadBytesPerSec: 2.5e6 + 0.5 } }), /mesh\.uploadBytesPerSec/)
    assert.throws(() => parseNodeConfig({ dataDir: '/tmp/x', network: 'testnet' }), { name: 'NodeConfigError', message: /sui: testnet needs the sui section/ })
  })

  it('logs receipts ahead within a bounded window by default, and keeps the strict mode a setting away', () => {
    const defaults = parseNodeConfig({ dataDir: '/tmp/x' })
    assert.deepEqual([defaults.proofs.durability, defaults.proofs.syncIntervalMs, defaults.proofs.maxUnsynced], ['logged', 5, 256])
    assert.equal(parseNodeConfig({ dataDir: '/tmp/x', proofs: { durability: 'strict' } }).proofs.durability, 'strict')
    assert.equal(defaults.inference.inlineMaxRunMs, 0.5)
  })

  it('hides key material and tokens in URLs when printed', () => {
    const shown = redactConfig({
      dataDir: '/d',
      sui: { url: 'https://user:secret@rpc.example.org/?token=abc', graphqlUrl: 'https://graphql.example.org/graphql' },
      apiKey: 'k-123',
      walrus: { aggregator: ['https://agg.example.org/path?apikey=zzz'] }
    }) as any
    assert.equal(shown.apiKey, '[redacted]')
    assert.doesNotMatch(JSON.stringify(shown), /secret|abc|zzz|k-123/)
    assert.equal(shown.sui.graphqlUrl, 'https://graphql.example.org/graphql')
    assert.equal(shown.dataDir, '/d')
  })

  it('takes every default from its layer\'s constants, and parses a section given as {} as one left out', () => {
    const config = parseNodeConfig({ dataDir: '/d' })
    assert.equal(config.api.port, DEFAULT_API_PORT)
    assert.equal(config.cache.quotaBytes, DEFAULT_QUOTA_BYTES)
    assert.deepEqual([config.mesh.digestIntervalMs, config.mesh.providerTtlMs], [DIGEST_INTERVAL_MS, PROVIDER_TTL_MS])
    // No upload pace unless the operator sets one: herd cannot know the uplink.
    assert.equal(config.mesh.uploadBytesPerSec, undefined)
    assert.deepEqual(config.inference, {
      concurrency: inference.DEFAULT_CONCURRENCY,
      queueDepth: inference.DEFAULT_QUEUE_DEPTH,
      memoryBudgetBytes: inference.DEFAULT_MEMORY_BUDGET_BYTES,
      maxRunBytes: inference.DEFAULT_MAX_RUN_BYTES,
      intraOpNumThreads: inference.DEFAULT_INTRA_OP_THREADS,
      graphOptimizationLevel: inference.DEFAULT_GRAPH_OPTIMIZATION_LEVEL,
      warmOnCache: false,
      startThreads: true,
      defaultDeadlineMs: inference.DEFAULT_DEADLINE_MS,
      maxHops: inference.DEFAULT_MAX_HOPS,
      peerFetchBytesPerSec: inference.DEFAULT_PEER_FETCH_BYTES_PER_SEC,
      walrusFetchBytesPerSec: inference.DEFAULT_WALRUS_FETCH_BYTES_PER_SEC,
      inlineMaxRunMs: inference.DEFAULT_INLINE_MAX_RUN_MS
    })
    assert.deepEqual(config.proofs, {
      enabled: true,
      batchSize: proofs.DEFAULT_BATCH_SIZE,
      intervalMs: proofs.DEFAULT_BATCH_INTERVAL_MS,
      includeTensors: true,
      maxQueued: proofs.DEFAULT_MAX_QUEUED,
      retainSealedMs: proofs.DEFAULT_RETAIN_SEALED_MS,
      durability: proofs.DEFAULT_RECEIPT_DURABILITY,
      syncIntervalMs: proofs.DEFAULT_SYNC_INTERVAL_MS,
      maxUnsynced: proofs.DEFAULT_MAX_UNSYNCED
    })
    const sections = ['api', 'registry', 'embedded', 'cache', 'mesh', 'inference', 'proofs', 'storage', 'fetch'] as const
    assert.deepEqual(parseNodeConfig({ dataDir: '/d', ...Object.fromEntries(sections.map(name => [name, {}])), cache: { requestLog: {} } }), config)
  })
})
