import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Signer } from '@mysten/sui/cryptography'
import { Option, type Command } from 'commander'
import { chunkTreeOfFile, DEFAULT_CHUNK_SIZE, encodeChunkHashes, toHex } from '../../blob/chunk-tree.js'
import { loadOrCreateNodeKey } from '../../chain/node-key.js'
import type { Ledger, ModelEntry } from '../../chain/types.js'
import { parseModelRef } from '../../chain/validation.js'
import { readOnnxSignature } from '../../inference/model-signature.js'
import { walrusWriteMode, type NodeConfig } from '../../node-config.js'
import type { PutOptions, StoredBlob, WalrusStore } from '../../walrus/types.js'
import { buildServices } from '../../node-services.js'
import { commandConfig, commandPayments, networkOptions, type NetworkOptions } from '../clients.js'
import { DEFAULT_LEDGER_URL, DEFAULT_WALRUS_URL, httpUrl, integer, printJson } from '../options.js'
import { blobCosts, formatCoin, pushGasMist, requireFunds } from '../push-cost.js'

interface LedgerOptions extends NetworkOptions { ledger?: string }

function ledgerOption (command: Command): Command {
  return networkOptions(command).option('--ledger <url>', `the devnet's ledger URL (default $HERD_LEDGER or ${DEFAULT_LEDGER_URL})`, httpUrl)
}

const ledgerFlags = (options: LedgerOptions): Record<string, unknown> => options.ledger != null ? { ledger: options.ledger } : {}


/** Stores the chunk hashes (the leaves concatenated) as their own blob, through a temp file removed afterwards. */
async function putChunkHashes (walrus: WalrusStore, leaves: Uint8Array[], options: PutOptions): Promise<StoredBlob> {
  const dir = await mkdtemp(join(tmpdir(), 'herd-chunk-hashes-'))
  try {
    const path = join(dir, 'chunk-hashes')
    await writeFile(path, encodeChunkHashes(leaves))
    return await walrus.putFile(path, options)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** The next integer version after the highest integer version of `name`, or "1". */
function nextVersion (name: string, models: ModelEntry[]): string {
  const numbers = models.filter(m => m.name === name && /^\d+$/.test(m.version)).map(m => Number(m.version))
  return String(numbers.length === 0 ? 1 : Math.max(...numbers) + 1)
}

export function modelCommand (program: Command): void {
  const model = program.command('model').description('the model registry on the ledger')

  ledgerOption(model.command('push'))
    .description('store a model file and its chunk hashes on Walrus and register it on the ledger; prints the entry as JSON')
    .argument('<file>')
    .requiredOption('--name <name[@version]>', 'registry name; without @version, the next integer version')
    .option('--walrus <url>', `publisher and aggregator base URL (default $HERD_WALRUS or ${DEFAULT_WALRUS_URL})`, httpUrl)
    .option('--data-dir <dir>', 'node data dir holding the signing key (default $HERD_DATA_DIR or $HERD_HOME/node)')
    .option('--epochs <n>', 'Walrus storage epochs ahead (default the config\'s walrus.epochs, 1)', integer('--epochs', 1, 53))
    .option('--share', 'store the model and its chunk hashes as shared blobs, which any node serving them may extend (on testnet and mainnet, through a publisher)')
    .option('--dry-run', 'print the encoded sizes, the storage cost in WAL and an estimate of gas in SUI, and store nothing')
    .option('--chunk-size <bytes>', 'chunk size of the chunk tree', integer('--chunk-size', 1024, 64 * 1024 * 1024), DEFAULT_CHUNK_SIZE)
    .addOption(new Option('--format <format>', 'model format; .onnx files are read with onnxruntime').choices(['onnx', 'raw']))
    .action(async (file: string, options: LedgerOptions & { name: string, walrus?: string, dataDir?: string, epochs?: number, dryRun?: boolean, share?: boolean, chunkSize: number, format?: 'onnx' | 'raw' }) => {
      const path = resolve(file)
      const info = await stat(path).catch(() => undefined)
      if (info?.isFile() !== true) throw new Error(`no such file: ${file}`)
      const ref = parseModelRef(options.name)
      const format = options.format ?? (path.toLowerCase().endsWith('.onnx') ? 'onnx' : 'raw')
      // Read the signature first: a file onnxruntime cannot load is refused before anything is stored.
      const signature = format === 'onnx' ? await readOnnxSignature(path) : { format: 'raw', inputs: [], outputs: [] }
      const config = await commandConfig(options, {
        ...ledgerFlags(options),
        ...(options.dataDir != null ? { dataDir: options.dataDir } : {}),
        ...(options.walrus != null || options.epochs != null ? { walrus: { ...(options.walrus != null ? { aggregator: options.walrus, publisher: options.walrus } : {}), ...(options.epochs != null ? { epochs: options.epochs } : {}) } } : {})
      })
      const key = await loadOrCreateNodeKey(config.dataDir)
      if (options.dryRun === true) {
        const tree = await chunkTreeOfFile(path, { chunkSize: options.chunkSize })
        printJson(await dryRun(config, tree.size, encodeChunkHashes(tree.leaves).length, key))
        return
      }
      const payments = commandPayments(config)
      const services = await buildServices(config, key, undefined, { onPaid: payments.onPaid })
      const { ledger, walrus } = services
      try {
        await requireFunds(services, key.toSuiAddress(), walrus.writeMode)
        const existing = await ledger.listModels()
        const version = ref.version ?? nextVersion(ref.name, existing)
        const taken = existing.find(m => m.name === ref.name && m.version === version)
        if (taken != null) throw new Error(`model ${ref.name}@${version} is already registered (blob ${taken.blobId}): push under another version`)
        const tree = await chunkTreeOfFile(path, { chunkSize: options.chunkSize })
        // The store adds the config's epochs and sends publisher-made Blob objects to the key's address.
        // A shared blob has no owner address: any node may keep it alive.
        const putOptions = options.share === true ? { share: true } : {}
        const stored = await walrus.putFile(path, putOptions)
        // A node in a cold mesh checks chunks on their own against these, once they match the registered root.
        const chunkHashes = await putChunkHashes(walrus, tree.leaves, putOptions)
        const entry = await ledger.registerModel({
          name: ref.name,
          version,
          blobId: stored.blobId,
          size: tree.size,
          chunkSize: tree.chunkSize,
          chunkRoot: toHex(tree.root),
          chunkHashesBlobId: chunkHashes.blobId,
          format: signature.format,
          inputs: signature.inputs,
          outputs: signature.outputs,
          ...(stored.objectId != null ? { blobObjectId: stored.objectId } : {})
        })
        printJson(entry)
      } finally {
        await Promise.all([ledger.close(), walrus.close()])
        await payments.log.flush()
      }
    })

  ledgerOption(model.command('show'))
    .description('print one registry entry as JSON')
    .argument('<ref>', 'NAME (latest version), NAME@VERSION or a blob ID')
    // A blob ID is base64url and may begin with '-': taken as the argument, not as an unknown option.
    .allowUnknownOption()
    .action(async (ref: string, options: LedgerOptions) => {
      const ledger = await readLedger(options)
      try {
        printJson(await ledger.getModel(ref))
      } finally {
        await ledger.close()
      }
    })

  ledgerOption(model.command('list'))
    .description('print every registry entry as JSON, in registration order')
    .action(async (options: LedgerOptions) => {
      const ledger = await readLedger(options)
      try {
        printJson({ models: await ledger.listModels() })
      } finally {
        await ledger.close()
      }
    })
}

/** The ledger alone, for reading: no key is loaded. */
async function readLedger (options: LedgerOptions): Promise<Ledger> {
  const { ledger, walrus } = await buildServices(await commandConfig(options, ledgerFlags(options)))
  await walrus.close()
  return ledger
}

/** What a push would store and pay, before anything is paid. */
async function dryRun (config: NodeConfig, modelSize: number, chunkHashesSize: number, key: Signer & { toSuiAddress: () => string }): Promise<Record<string, unknown>> {
  const address = key.toSuiAddress()
  const epochs = config.walrus?.epochs ?? 1
  const writeMode = walrusWriteMode(config)
  const blobs = await blobCosts(config, [{ what: 'model', size: modelSize }, { what: 'chunk-hashes', size: chunkHashesSize }], epochs, { signer: key })
  const storage = blobs.reduce((sum, b) => sum + b.costFrost, 0n)
  const devnet = config.network === 'devnet'
  const gas = devnet ? { mist: 0n, transactions: 0, simulated: 0 } : pushGasMist(writeMode, blobs)
  return {
    dryRun: true,
    network: config.network,
    address,
    epochs,
    writeMode,
    blobs: blobs.map(b => ({ what: b.what, size: b.size, encodedSize: b.encodedSize, storageCostWal: formatCoin(b.costFrost) })),
    storageCostWal: formatCoin(storage),
    storagePaidBy: devnet ? 'nobody' : writeMode === 'publisher' ? 'the publisher' : address,
    transactions: gas.transactions,
    gasEstimateSui: formatCoin(gas.mist),
    note: devnet
      ? 'the devnet charges nothing: encoded sizes are Walrus\'s at the devnet\'s shard count and every cost is 0'
      : `storage from the Walrus system object's current prices; gas: ${gas.simulated} registration(s) simulated, 0.01 SUI allowed for each other transaction`
  }
}
