// A herd node alone in its process for benchmarks/abuse/memory.ts, so that the process's RSS is the
// node's: a local Walrus and ledger, one node holding the abuse MLP, its HTTP API. Talks to its
// parent over the IPC channel: { ready } once serving, { collected } after each { collect }.
import { join } from 'node:path'
import { quickNodeConfig, startDevnet, startNode } from '../../harness/in-process-mesh.js'
import { ApiServer } from '../../src/api/server.js'
import { syntheticMlp } from '../../sim/synthetic-model.js'
import { ABUSE_MLP } from './memory.js'

const send = (message: unknown): void => { process.send?.(message) }
const collect = (globalThis as { gc?: () => void }).gc
// The parent makes the directory and removes it, even when this process has to be killed.
const dir = process.argv[2]
if (process.send == null || collect == null || dir == null) throw new Error('memory-node runs as a child of benchmarks/abuse/memory.ts, with --expose-gc and a directory')

const devnet = await startDevnet(join(dir, 'devnet'))
const published = await devnet.publish(syntheticMlp(ABUSE_MLP), { name: 'mlp', onnx: true })
// One inference thread, so every run lands on the session under test; no receipts, so what is
// measured is the run and not the proof queue (issue 13's item 3).
const node = await startNode(quickNodeConfig(join(dir, 'node'), devnet, { inference: { concurrency: 1 }, proofs: { enabled: false } }))
await node.fetcher.fetch(published.blobId)
const api = new ApiServer({ node, port: 0 })
await api.start()

let stopping: Promise<void> | undefined
async function stop (): Promise<void> {
  stopping ??= (async () => {
    await api.stop()
    await node.stop()
    await devnet.stop()
    process.disconnect?.()
  })()
  return stopping
}

process.on('message', (message: { collect?: boolean, stop?: boolean }) => {
  if (message.collect === true) {
    collect()
    send({ collected: true })
  } else if (message.stop === true) {
    void stop()
  }
})
// The parent went away: leave nothing behind.
process.on('disconnect', () => { void stop() })
send({ ready: { api: api.url, addrs: node.libp2p.getMultiaddrs().map(String), peerId: node.peerId.toString() } })
