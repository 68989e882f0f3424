import { resolve, join } from 'node:path'
import type { Command } from 'commander'
import { DEFAULT_N_SHARDS } from '../../blob/blob-id-computer.js'
import { DEFAULT_EPOCH_MS, MAX_EPOCH_MS, MIN_EPOCH_MS } from '../../walrus/local/constants.js'
import { DEFAULT_MAX_BLOB_BYTES, LocalWalrus } from '../../walrus/local/server.js'
import { ChainStore } from '../../chain/local/chain-store.js'
import { LedgerServer } from '../../chain/local/server.js'
import { DEFAULT_LEDGER_PORT, DEFAULT_WALRUS_PORT, fraction, herdHome, integer, printJson } from '../options.js'
import { untilSignal } from '../signals.js'

interface DevnetOptions {
  dir?: string
  host: string
  walrusPort: number
  ledgerPort: number
  shards: number
  maxBlobBytes: number
  epochMs: number
  latencyMs: number
  bandwidth: number
  failureRate: number
  seed: number
}

export function devnetCommand (program: Command): void {
  program.command('devnet')
    .description('run the local Walrus (publisher + aggregator HTTP API) and the local ledger, stand-ins for Walrus and Sui')
    .option('--dir <dir>', 'data dir (default $HERD_HOME/devnet)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--walrus-port <port>', 'port of the local Walrus; 0 picks a free one', integer('--walrus-port', 0, 65535), DEFAULT_WALRUS_PORT)
    .option('--ledger-port <port>', 'port of the local ledger; 0 picks a free one', integer('--ledger-port', 0, 65535), DEFAULT_LEDGER_PORT)
    .option('--shards <n>', 'shard count of the encoder (1000 gives mainnet IDs)', integer('--shards', 1, 65535), DEFAULT_N_SHARDS)
    .option('--max-blob-bytes <n>', 'largest upload accepted', integer('--max-blob-bytes', 1), DEFAULT_MAX_BLOB_BYTES)
    .option('--epoch-ms <ms>', 'length of a Walrus epoch: blobs expire at their end epoch', integer('--epoch-ms', MIN_EPOCH_MS, MAX_EPOCH_MS), DEFAULT_EPOCH_MS)
    .option('--latency-ms <ms>', 'latency added to every answer', integer('--latency-ms', 0, 60_000), 0)
    .option('--bandwidth <bytes-per-sec>', 'cap on each response body; 0 for none', integer('--bandwidth', 0), 0)
    .option('--failure-rate <p>', 'share of requests failed with a 5xx', fraction('--failure-rate'), 0)
    .option('--seed <n>', 'seed of the failure injection', integer('--seed', 0, 2 ** 32 - 1), 1)
    .action(async (options: DevnetOptions) => {
      const dir = resolve(options.dir ?? join(herdHome(), 'devnet'))
      const walrus = new LocalWalrus({
        dir: join(dir, 'walrus'),
        host: options.host,
        port: options.walrusPort,
        nShards: options.shards,
        maxBlobBytes: options.maxBlobBytes,
        epochMs: options.epochMs,
        seed: options.seed,
        shaping: { latencyMs: options.latencyMs, bandwidthBytesPerSec: options.bandwidth, failureRate: options.failureRate }
      })
      // Listen before announcing: a signal sent right after the ready line must not find Node's default handler.
      const stopSignal = untilSignal()
      const store = new ChainStore(join(dir, 'ledger'))
      await store.open()
      const ledger = new LedgerServer({ store, host: options.host, port: options.ledgerPort })
      try {
        await walrus.start()
        await ledger.start()
      } catch (err) {
        await Promise.all([walrus.stop(), ledger.stop()])
        await store.close()
        throw err
      }
      printJson({ event: 'ready', walrus: walrus.url, ledger: ledger.url, dir, nShards: walrus.nShards, maxBlobBytes: walrus.maxBlobBytes, epochMs: options.epochMs })
      const signal = await stopSignal
      await Promise.all([walrus.stop(), ledger.stop()])
      await store.close()
      printJson({ event: 'stopped', signal })
    })
}
