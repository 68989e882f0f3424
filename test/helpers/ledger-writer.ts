// Appends anchors to a local ledger as fast as it can and prints each height: a crash-test victim.
import { randomBytes } from 'node:crypto'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { blobIdFromBytes } from '../../src/blob/blob-id.js'
import { LocalLedger } from '../../src/chain/local-ledger.js'

const dir = process.argv[2]
if (dir == null) throw new Error('usage: ledger-writer DIR')
const ledger = await LocalLedger.open(dir, Ed25519Keypair.generate())
for (let i = 0; i < 5000; i++) {
  const receipt = await ledger.anchor({ root: randomBytes(32).toString('hex'), count: 1 + i, bundleBlobId: blobIdFromBytes(randomBytes(32)) })
  process.stdout.write(`${receipt.height}\n`)
}
await ledger.close()
