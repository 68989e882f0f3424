/**
 * A herd node in a process of its own, under inference load, for the crash
 * test in receipt-crash.test.ts: it runs a model with `inflight` requests at
 * once and prints each reply's receipt ID the moment the reply is in hand (a
 * reply the node's caller could have forwarded), until it is killed.
 *
 * argv[2]: JSON { dataDir, walrusUrl, ledgerUrl, model, blobId, inflight, proofs }
 * stdout: { ready: true } once the model is held, then one line { receipt: ID, seq } per reply.
 */
import { HerdNode } from '../../src/node.js'
import { parseNodeConfig, type NodeConfigInput } from '../../src/node-config.js'
import { decodeSignedReceipt } from '../../src/proof/receipt.js'
import { seededTensor } from '../../harness/seeded-tensor.js'

interface ChildConfig {
  dataDir: string
  walrusUrl: string
  ledgerUrl: string
  model: string
  blobId: string
  inflight: number
  proofs: NodeConfigInput['proofs']
}

const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig
const node = new HerdNode(parseNodeConfig({
  dataDir: config.dataDir,
  walrus: { aggregator: config.walrusUrl, publisher: config.walrusUrl },
  ledger: config.ledgerUrl,
  api: { host: '127.0.0.1', port: 0 },
  mesh: { privateNetwork: true, dhtProvide: false, allow: ['/ip4/127.0.0.1'] },
  proofs: config.proofs
}))
await node.start()
await node.fetcher.fetch(config.blobId as Parameters<HerdNode['fetcher']['fetch']>[0], { signal: AbortSignal.timeout(60_000) })
process.stdout.write(JSON.stringify({ ready: true }) + '\n')
const inputs = { x: seededTensor([1, 16], 3) }
await Promise.all(Array.from({ length: config.inflight }, async () => {
  for (;;) {
    const result = await node.inference.infer({ model: config.model, inputs })
    if (result.receipt == null) throw new Error('a reply without a receipt')
    const info = decodeSignedReceipt(result.receipt)
    process.stdout.write(JSON.stringify({ receipt: info.id, seq: info.receipt.seq.toString() }) + '\n')
  }
}))
