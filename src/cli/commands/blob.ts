import { createReadStream } from 'node:fs'
import { stat, unlink, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { Command } from 'commander'
import { parseBlobId } from '../../blob/blob-id.js'
import { BlobIdComputer, DEFAULT_N_SHARDS } from '../../blob/blob-id-computer.js'
import { chunkTreeOfFile, DEFAULT_CHUNK_SIZE, toHex } from '../../blob/chunk-tree.js'
import { buildServices } from '../../node-services.js'
import { commandConfig, commandPayments, networkOptions, type NetworkOptions } from '../clients.js'
import { byteRange, DEFAULT_WALRUS_URL, httpUrl, integer, printJson } from '../options.js'
import { readProgressBar } from '../output/read-progress.js'
import { existingNodeKey } from './key.js'

interface WalrusOptions extends NetworkOptions {
  walrus?: string
  publisher?: string
  aggregator?: string
}

/** The Walrus flags as a config layer, over the profile, the config file and HERD_*. */
function walrusFlags (options: WalrusOptions & { epochs?: number }): Record<string, unknown> {
  const walrus = {
    ...(options.walrus != null ? { aggregator: options.walrus, publisher: options.walrus } : {}),
    ...(options.aggregator != null ? { aggregator: options.aggregator } : {}),
    ...(options.publisher != null ? { publisher: options.publisher } : {}),
    ...(options.epochs != null ? { epochs: options.epochs } : {})
  }
  return Object.keys(walrus).length > 0 ? { walrus } : {}
}

async function regularFile (path: string): Promise<string> {
  const info = await stat(path).catch(() => undefined)
  if (info == null) throw new Error(`no such file: ${path}`)
  if (!info.isFile()) throw new Error(`not a regular file: ${path}`)
  return resolve(path)
}

function walrusOptions (command: Command): Command {
  return networkOptions(command)
    .option('--walrus <url>', `publisher and aggregator base URL (default $HERD_WALRUS or ${DEFAULT_WALRUS_URL})`, httpUrl)
    .option('--publisher <url>', 'publisher base URL, when it differs from the aggregator', httpUrl)
    .option('--aggregator <url>', 'aggregator base URL, when it differs from the publisher', httpUrl)
}

export function blobCommand (program: Command): void {
  const blob = program.command('blob').description('compute, store and fetch Walrus blobs')

  blob.command('id')
    .description('print the Walrus blob ID and chunk root of a file, without storing it')
    .argument('<file>')
    .option('--shards <n>', 'shard count of the target Walrus network', integer('--shards', 1, 65535), DEFAULT_N_SHARDS)
    .option('--chunk-size <bytes>', 'chunk size of the chunk tree', integer('--chunk-size', 1024, 64 * 1024 * 1024), DEFAULT_CHUNK_SIZE)
    .action(async (file: string, options: { shards: number, chunkSize: number }) => {
      const path = await regularFile(file)
      const computer = new BlobIdComputer({ nShards: options.shards })
      try {
        const [metadata, tree] = await Promise.all([computer.computeFile(path), chunkTreeOfFile(path, { chunkSize: options.chunkSize })])
        printJson({ blobId: metadata.blobId, size: metadata.size, nShards: metadata.nShards, chunkRoot: toHex(tree.root), chunkSize: tree.chunkSize, chunks: tree.leaves.length })
      } finally {
        await computer.stop()
      }
    })

  walrusOptions(blob.command('put'))
    .description('store a file on Walrus through a publisher and print the reply as JSON')
    .argument('<file>')
    .option('--epochs <n>', 'storage epochs ahead (default the config\'s walrus.epochs, 1)', integer('--epochs', 1, 53))
    .option('--permanent', 'store as a permanent (non-deletable) blob')
    .option('--send-object-to <address>', 'Sui address that receives the Blob object')
    .option('--data-dir <dir>', 'node data dir holding the key that pays and owns a testnet or mainnet write (default $HERD_DATA_DIR or $HERD_HOME/node)')
    .action(async (file: string, options: WalrusOptions & { epochs?: number, permanent?: boolean, sendObjectTo?: string, dataDir?: string }) => {
      const path = await regularFile(file)
      const config = await commandConfig(options, { ...walrusFlags(options), ...(options.dataDir != null ? { dataDir: options.dataDir } : {}) })
      // The devnet's publisher pays for itself; elsewhere the node key owns the Blob (and pays, through the SDK).
      const key = config.network !== 'devnet' ? await existingNodeKey(config.dataDir) : undefined
      const payments = commandPayments(config)
      const { walrus: client, ledger } = await buildServices(config, key, undefined, { onPaid: payments.onPaid })
      await ledger.close()
      try {
        const stored = await client.putFile(path, {
          ...(options.permanent === true ? { permanent: true } : {}),
          ...(options.sendObjectTo != null ? { sendObjectTo: options.sendObjectTo } : {})
        })
        printJson(stored)
      } finally {
        await client.close()
        await payments.log.flush()
      }
    })

  walrusOptions(blob.command('get'))
    .description('fetch a blob from an aggregator, to a file (-o) or to stdout')
    .argument('<blobId>')
    // A blob ID is base64url and may begin with '-': taken as the argument, not as an unknown option.
    .allowUnknownOption()
    .option('-o, --output <file>', 'write the blob here, atomically, and print JSON; without it, raw bytes go to stdout')
    .option('--range <start-end>', 'inclusive byte range', byteRange)
    .option('--quiet', 'no progress bar (there is none when stderr is not a terminal)')
    .action(async (blobIdArgument: string, options: WalrusOptions & { output?: string, range?: { start: number, end: number }, quiet?: boolean }) => {
      const blobId = parseBlobId(blobIdArgument)
      const { walrus: client, ledger } = await buildServices(await commandConfig(options, walrusFlags(options)))
      await ledger.close()
      const bar = readProgressBar(options.quiet === true)
      try {
        const range = { ...(options.range != null ? { range: options.range } : {}), ...(bar != null ? { onProgress: bar.update } : {}) }
        if (options.output != null) {
          const path = resolve(options.output)
          const { bytes } = await client.getToFile(blobId, path, range)
          bar?.stop()
          printJson({ blobId, path, bytes })
          return
        }
        // stdout cannot be rewound, so the blob lands on disk first and a retry never duplicates bytes.
        const dir = await mkdtemp(join(tmpdir(), 'herd-get-'))
        try {
          const path = join(dir, 'blob')
          await client.getToFile(blobId, path, range)
          bar?.stop()
          await pipeline(createReadStream(path), process.stdout, { end: false })
          await unlink(path)
        } finally {
          await rm(dir, { recursive: true, force: true })
        }
      } finally {
        bar?.stop()
        await client.close()
      }
    })
}
