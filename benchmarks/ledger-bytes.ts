// Bytes the local ledger stores per model registration and per anchor, whatever the batch size behind an anchor.
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { blobIdFromBytes } from '../src/blob/blob-id.js'
import { LocalLedger } from '../src/chain/local-ledger.js'
import { anchorAttributes, buildAttributesTransaction } from '../src/chain/sui-ledger.js'
import { parseScriptArgs } from '../harness/script-args.js'

// It takes no options: an argument (a --quick meant for another benchmark) would otherwise be ignored without a word.
parseScriptArgs('ledger-bytes', 'usage: ledger-bytes [--help] (no other options)', {})

const ANCHOR_TARGET_BYTES = 256
const OPS = 200

async function dirBytes (dir: string): Promise<number> {
  let total = 0
  for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size
  return total
}

const dir = await mkdtemp(join(tmpdir(), 'herd-ledger-bench-'))
try {
  const ledger = await LocalLedger.open(join(dir, 'ledger'), Ed25519Keypair.generate())
  const blockBytes = async (height: number): Promise<number> => (await ledger.store.blockBytes(height)).length

  const model = await ledger.registerModel({
    name: 'ppocr-det',
    version: '4.0',
    blobId: blobIdFromBytes(randomBytes(32)),
    size: 4_745_517,
    chunkSize: 1024 * 1024,
    chunkRoot: randomBytes(32).toString('hex'),
    chunkHashesBlobId: blobIdFromBytes(randomBytes(32)),
    format: 'onnx',
    inputs: [{ name: 'x', type: 'float32', shape: ['p2o.DynamicDimension.0', 3, 'p2o.DynamicDimension.1', 'p2o.DynamicDimension.2'] }],
    outputs: [{ name: 'sigmoid_0.tmp_0', type: 'float32', shape: ['p2o.DynamicDimension.3', 1, 'p2o.DynamicDimension.4', 'p2o.DynamicDimension.5'] }]
  })
  const registrationBytes = await blockBytes(model.height)

  console.log(`local ledger bytes per write (block = height, previous hash, time, signed transaction; target for an anchor: <= ${ANCHOR_TARGET_BYTES} B)`)
  console.log('| write | batch size | block bytes | bytes per proof | within target |')
  console.log('|---|---:|---:|---:|---|')
  console.log(`| model registration (PaddleOCR det signature) | - | ${registrationBytes} | - | - |`)
  for (const count of [1, 16, 256, 65_536, 4_294_967_295]) {
    const receipt = await ledger.anchor({ root: randomBytes(32).toString('hex'), count, bundleBlobId: blobIdFromBytes(randomBytes(32)) })
    const bytes = await blockBytes(receipt.height)
    console.log(`| anchor | ${count} | ${bytes} | ${(bytes / count).toPrecision(3)} | ${bytes <= ANCHOR_TARGET_BYTES ? 'yes' : 'NO'} |`)
  }

  const suiAnchor = buildAttributesTransaction(`0x${'ab'.repeat(32)}`, { objectId: `0x${'cd'.repeat(32)}`, version: 1, digest: '4XQHFa9SRVmK8zBw8fZrUJnNQbC8f3Kb8vDqWmZ7Tg1K' },
    anchorAttributes({ root: randomBytes(32).toString('hex'), count: 256, bundleBlobId: blobIdFromBytes(randomBytes(32)) }))
  console.log(`\nSui: an anchor's programmable transaction (kind only, before gas and signature) is ${(await suiAnchor.build({ onlyTransactionKind: true })).length} bytes, whatever the batch size`)

  // What level puts on disk, indexes and log included, averaged over many anchors.
  await ledger.close()
  const before = await dirBytes(join(dir, 'ledger'))
  const again = await LocalLedger.open(join(dir, 'ledger'), Ed25519Keypair.generate())
  for (let i = 0; i < OPS; i++) await again.anchor({ root: randomBytes(32).toString('hex'), count: 256, bundleBlobId: blobIdFromBytes(randomBytes(32)) })
  await again.close()
  const after = await dirBytes(join(dir, 'ledger'))
  console.log(`\nlevel on disk, block plus indexes and write-ahead log: ${((after - before) / OPS).toFixed(0)} bytes per anchor over ${OPS} anchors`)
} finally {
  await rm(dir, { recursive: true, force: true })
}
