import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { TESTNET_WALRUS_PACKAGE_CONFIG } from '@mysten/walrus'
import { loadOrCreateNodeKey } from '../../src/chain/node-key.js'
import { suiBalances } from '../../src/chain/sui-wallet.js'
import type { Command } from 'commander'
import { buildProgram } from '../../src/cli/program.js'
import { blobCosts, pushGasMist, requireFunds } from '../../src/cli/push-cost.js'
import { resolveConfig } from '../../src/cli/resolve-config.js'
import { encodedBlobLength, storageUnits } from '../../src/walrus/encoded-size.js'
import { syntheticMlp } from '../../sim/synthetic-model.js'
import type { NodeServices } from '../../src/node-services.js'
import { PaymentLog } from '../../src/payment-log.js'
import { runCli, tempDir } from '../helpers/devnet.js'
import { SUI_TYPE } from '../helpers/sui-standin-chain.js'
import { CALL_PACKAGE, suiStandIn, SYSTEM_OBJECT, TYPE_PACKAGE } from '../helpers/sui-standin.js'
import { addWalrusSystemState } from '../helpers/sui-standin-walrus.js'

/** No HERD_* of the shell running the tests leaks into these. */
const CLEAN_ENV = { HERD_NETWORK: '', HERD_CONFIG: '', HERD_WALRUS: '', HERD_LEDGER: '', HERD_SUI_URL: '', HERD_DATA_DIR: '' }

describe('herd config, key, wallet and model push --dry-run', () => {
  it('herd config show prints the resolved testnet config, secrets hidden, and refuses a bad field by name', async () => {
    await using dir = await tempDir()
    const shown = await runCli(['config', 'show', '--network', 'testnet', '--data-dir', dir.path], { env: { ...CLEAN_ENV, HERD_SUI_URL: 'https://rpc.example.org/?apikey=hunter2' } })
    assert.equal(shown.code, 0, shown.stderr)
    const config = JSON.parse(shown.stdout)
    assert.equal(config.network, 'testnet')
    assert.equal(config.dataDir, dir.path)
    assert.equal(config.sui.graphqlUrl, 'https://graphql.testnet.sui.io/graphql')
    assert.equal(config.sui.walrusPackage.systemObjectId, TESTNET_WALRUS_PACKAGE_CONFIG.systemObjectId)
    assert.deepEqual(config.walrus.aggregator, ['https://aggregator.walrus-testnet.walrus.space'])
    assert.doesNotMatch(shown.stdout, /hunter2/)

    const file = join(dir.path, 'node.json')
    await writeFile(file, JSON.stringify({ network: 'testnet', registry: { trustedPublishers: ['0xnot-an-address'] }, walrus: { aggregator: 'https://a.example.org', colour: 'blue' } }))
    const bad = await runCli(['config', 'show', '--config', file], { env: CLEAN_ENV })
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /registry\.trustedPublishers\.0: not a Sui address/)
    assert.match(bad.stderr, /walrus: Unrecognized key: "colour"/)
    const badUrl = await runCli(['config', 'show', '--network', 'mainnet'], { env: { ...CLEAN_ENV, HERD_SUI_URL: 'fullnode.mainnet.sui.io' } })
    assert.equal(badUrl.code, 1)
    assert.match(badUrl.stderr, /sui\.url/)
    const badNetwork = await runCli(['start', '--network', 'moonnet', '--data-dir', dir.path], { env: CLEAN_ENV })
    assert.notEqual(badNetwork.code, 0)
    assert.match(badNetwork.stderr, /--network <name>' argument 'moonnet' is invalid/)
  })

  it('takes --network on every command that touches a network', async () => {
    // Every command group, as `herd --help` registers them.
    const program = await buildProgram()
    const find = (path: string[]): Command | undefined => path.reduce<Command | undefined>((at, name) => at?.commands.find(c => c.name() === name), program)
    for (const path of [['start'], ['model', 'push'], ['model', 'show'], ['model', 'list'], ['proof', 'verify'], ['blob', 'put'], ['blob', 'get'], ['fetch'], ['infer'], ['wallet'], ['config', 'show']]) {
      const command = find(path)
      assert.ok(command != null, path.join(' '))
      assert.ok(command.options.some(o => o.long === '--network'), `${path.join(' ')} takes --network`)
    }
  })

  it('herd key show prints the peer ID and Sui address of the node key, and refuses a data dir without one', async () => {
    await using dir = await tempDir()
    const missing = await runCli(['key', 'show', '--data-dir', dir.path], { env: CLEAN_ENV })
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /no node key at/)
    const key = await loadOrCreateNodeKey(dir.path)
    const shown = await runCli(['key', 'show', '--data-dir', dir.path], { env: CLEAN_ENV })
    assert.equal(shown.code, 0, shown.stderr)
    const printed = JSON.parse(shown.stdout)
    assert.equal(printed.address, key.toSuiAddress())
    assert.match(printed.peerId, /^12D3KooW/, 'an Ed25519 peer ID')
    assert.doesNotMatch(shown.stdout, /suiprivkey/)
    const wallet = await runCli(['wallet', '--data-dir', dir.path], { env: CLEAN_ENV })
    assert.equal(wallet.code, 0, wallet.stderr)
    assert.deepEqual({ ...JSON.parse(wallet.stdout), note: undefined }, { network: 'devnet', address: key.toSuiAddress(), sui: null, wal: null, note: undefined, paid: {} }, 'nothing paid yet')

    // What the node and its pushes paid, as their payment log holds it.
    const log = new PaymentLog(join(dir.path, 'payments'))
    await log.record('testnet', { kind: 'blob-write', digest: '5Qh1UpGYx1rQnQ2rWu2X7Lq4d9ZxwZp3VcrGTGqK8rQW', suiMist: 2_500_000n, walFrost: 1_320_000n }, { at: Date.parse('2026-12-01T10:00:00Z') })
    await log.record('testnet', { kind: 'anchor', digest: '6Qh1UpGYx1rQnQ2rWu2X7Lq4d9ZxwZp3VcrGTGqK8rQW', suiMist: 1_000_000_000n, walFrost: 0n }, { at: Date.parse('2026-12-01T11:00:00Z') })
    await log.record('mainnet', { kind: 'anchor', digest: '7Qh1UpGYx1rQnQ2rWu2X7Lq4d9ZxwZp3VcrGTGqK8rQW', suiMist: 3n, walFrost: 0n })
    const paid = await runCli(['wallet', '--data-dir', dir.path], { env: CLEAN_ENV })
    assert.equal(paid.code, 0, paid.stderr)
    const printed2 = JSON.parse(paid.stdout)
    assert.deepEqual(printed2.paid.testnet, { sui: '1.0025', wal: '0.00132', mist: '1002500000', frost: '1320000', transactions: 2, since: '2026-12-01T10:00:00.000Z', last: '2026-12-01T11:00:00.000Z' })
    assert.deepEqual([printed2.paid.mainnet.mist, printed2.paid.mainnet.transactions], ['3', 1])
    // Offline, the balances cannot be read, but what was paid still is; the exit code says the balances are missing.
    const offline = await runCli(['wallet', '--network', 'testnet', '--data-dir', dir.path], { env: { ...CLEAN_ENV, HERD_SUI_URL: 'http://127.0.0.1:1' } })
    assert.equal(offline.code, 1)
    const shownOffline = JSON.parse(offline.stdout)
    assert.deepEqual([shownOffline.network, shownOffline.sui, shownOffline.paid.testnet.transactions], ['testnet', null, 2])
    assert.match(shownOffline.balanceError, /^RetryableLedgerError: /)
  })

  it('herd model push --dry-run prints the devnet\'s sizes at cost 0 and stores nothing', async () => {
    await using dir = await tempDir()
    const file = join(dir.path, 'model.onnx')
    await writeFile(file, syntheticMlp({ inputSize: 8, hiddenSize: 8, outputSize: 2, layers: 1, seed: 3 }))
    // No devnet is running: a push that tried to store anything would fail to connect.
    const dry = await runCli(['model', 'push', file, '--name', 'mlp', '--dry-run', '--epochs', '4', '--data-dir', join(dir.path, 'node'), '--chunk-size', '1024'], { env: CLEAN_ENV })
    assert.equal(dry.code, 0, dry.stderr)
    const plan = JSON.parse(dry.stdout)
    assert.equal(plan.dryRun, true)
    assert.equal(plan.network, 'devnet')
    assert.equal(plan.epochs, 4)
    assert.deepEqual(plan.blobs.map((b: any) => b.what), ['model', 'chunk-hashes'])
    assert.ok(plan.blobs.every((b: any) => b.encodedSize > b.size && b.storageCostWal === '0'))
    assert.equal(plan.storageCostWal, '0')
    assert.equal(plan.gasEstimateSui, '0')
    assert.match(plan.note, /devnet charges nothing/)
  })

  it('refuses a push at once, naming the address and the network, when the node key has no SUI (or no WAL for the SDK)', async () => {
    const sui = suiStandIn({ fundSui: 0n })
    const walType = `0x${'aa'.repeat(32)}::wal::WAL`
    const key = Ed25519Keypair.generate()
    const address = key.toSuiAddress()
    const services = { network: 'testnet', balances: async (options: { signal?: AbortSignal } = {}) => suiBalances(sui.client, address, walType, options) } as unknown as NodeServices
    await assert.rejects(requireFunds(services, address, 'publisher'), (err: any) => err.name === 'InsufficientGasError' && err.address === address && err.network === 'testnet' && err.message.includes(address))
    sui.chain.fund(address, SUI_TYPE, 5_000_000_000n)
    await requireFunds(services, address, 'publisher')
    await assert.rejects(requireFunds(services, address, 'sdk'), { name: 'InsufficientWalError' })
    sui.chain.fund(address, walType, 1_000_000_000n)
    await requireFunds(services, address, 'sdk')
  })

  it('prices a testnet push from the Walrus system state: storage and write fee per encoded unit, gas per transaction', async () => {
    const sui = suiStandIn()
    const prices = { nShards: 1000, epoch: 700, storagePricePerUnit: 100_000n, writePricePerUnit: 20_000n }
    addWalrusSystemState(sui.chain, SYSTEM_OBJECT, TYPE_PACKAGE, CALL_PACKAGE, prices)
    const config = await resolveConfig({ network: 'testnet', env: {}, flags: { dataDir: '/nonexistent/herd' } })
    const [model, hashes] = await blobCosts(config, [{ what: 'model', size: 5_000_000 }, { what: 'chunk-hashes', size: 160 }], 3, { suiClient: sui.client })
    for (const [cost, size] of [[model!, 5_000_000], [hashes!, 160]] as const) {
      assert.equal(cost.encodedSize, encodedBlobLength(size, 1000))
      assert.equal(cost.costFrost, BigInt(storageUnits(cost.encodedSize)) * (prices.storagePricePerUnit * 3n + prices.writePricePerUnit))
    }
    assert.deepEqual(pushGasMist('publisher', [model!, hashes!]), { mist: 10_000_000n, transactions: 1, simulated: 0 }, 'the publisher pays the storage; the node signs the registry entry')
    assert.deepEqual(pushGasMist('sdk', [model!, hashes!]), { mist: 50_000_000n, transactions: 5, simulated: 0 })
    assert.deepEqual(pushGasMist('sdk', [{ ...model!, registerGasMist: 3_000_000n }]), { mist: 23_000_000n, transactions: 3, simulated: 1 })
  })
})
