/**
 * A storage keeper in a process of its own, for the crash test in
 * keeper.test.ts: it runs one check against the local Walrus and kills
 * itself with SIGKILL as soon as Walrus has answered the first extension,
 * before the keeper can record the result.
 *
 * argv[2]: JSON { trackerDir, walrusUrl, secretKey }
 */
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { StorageKeeper } from '../../src/storage/keeper.js'
import { StorageTracker } from '../../src/storage/tracker.js'
import { WalrusHttpClient } from '../../src/walrus/http-client.js'
import type { ExtendRequest } from '../../src/walrus/types.js'

const config = JSON.parse(process.argv[2] ?? '{}') as { trackerDir: string, walrusUrl: string, secretKey: string }
const key = Ed25519Keypair.fromSecretKey(config.secretKey)
const http = new WalrusHttpClient({ publisher: config.walrusUrl, aggregator: config.walrusUrl, signer: key })
const tracker = new StorageTracker(config.trackerDir)
await tracker.open()
const walrus = {
  epoch: http.epoch.bind(http),
  lifetime: http.lifetime.bind(http),
  extend: async (request: ExtendRequest, options?: { signal?: AbortSignal }) => {
    const result = await http.extend(request, options)
    process.kill(process.pid, 'SIGKILL')
    return result
  }
}
const keeper = new StorageKeeper({ tracker, walrus, address: key.toSuiAddress() }, { renewWithinEpochs: 2, extendEpochs: 5 })
await keeper.check({ signal: AbortSignal.timeout(30_000) })
// Reached only if no extension was tried.
process.stdout.write(JSON.stringify({ done: true, status: keeper.status() }) + '\n')
await tracker.close()
