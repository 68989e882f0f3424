import assert from 'node:assert/strict'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { quickNodeConfig, startNode } from '../../harness/in-process-mesh.js'
import { parseRequestLine } from '../../src/blob/cache/request-log.js'
import type { HerdNode } from '../../src/node.js'
import { readRequestLog, replayLog } from '../../sim/replay.js'
import { devnetForSuite, randomModel, stopNodes, waitFor } from '../helpers/mesh.js'

const MiB = 1024 * 1024

describe('a node\'s request log (cache.requestLog)', () => {
  const suite = devnetForSuite()

  it('is written only when enabled: a Walrus miss, a hit and a peer miss, each with its source, replayable by herd sim replay', async () => {
    const fromWalrus = randomModel(MiB + 7)
    const fromPeer = randomModel(MiB + 11)
    const a = await suite.devnet.publish(fromWalrus, { chunkSize: 256 * 1024 })
    const b = await suite.devnet.publish(fromPeer, { chunkSize: 256 * 1024 })
    const dir = join(suite.dir, 'request-log')
    const nodes: HerdNode[] = []
    try {
      nodes.push(await startNode(quickNodeConfig(join(dir, 'plain'), suite.devnet)))
      nodes.push(await startNode(quickNodeConfig(join(dir, 'logging'), suite.devnet, { cache: { quotaBytes: 64 * MiB, requestLog: { enabled: true, maxBytes: MiB } } })))
      const [plain, logging] = nodes as [HerdNode, HerdNode]
      await logging.libp2p.dial(plain.libp2p.getMultiaddrs())
      await plain.fetcher.fetch(b.blobId)
      await waitFor('the logging node to hear that the other holds a blob', () => logging.providers.providers(b.blobId).some(p => p.peerId === plain.peerId.toString() && p.state === 'holder'))

      // The peer's blob first: a node that has timed this loopback Walrus (a 1 MiB read in a few ms) hedges a peer's
      // first bytes against it, and the Walrus copy may land first (mesh.md, the hedge).
      await logging.fetcher.fetch(b.blobId)
      await logging.fetcher.fetch(a.blobId)
      await logging.fetcher.fetch(a.blobId)
    } finally {
      // Stopping flushes the log.
      await stopNodes(nodes)
    }

    await assert.rejects(stat(join(dir, 'plain', 'cache', 'requests.jsonl')), { code: 'ENOENT' }, 'off by default')
    const path = join(dir, 'logging', 'cache', 'requests.jsonl')
    const records = (await readFile(path, 'utf8')).trimEnd().split('\n').map((line, i) => parseRequestLine(line, i + 1))
    assert.deepEqual(records.map(r => [r.blob, r.size, r.source, r.hit]), [
      [b.blobId, fromPeer.byteLength, 'peer', false],
      [a.blobId, fromWalrus.byteLength, 'walrus', false],
      [a.blobId, fromWalrus.byteLength, 'cache', true]
    ])
    assert.ok(records.every((r, i) => i === 0 || r.t >= (records[i - 1]?.t ?? 0)), 'in order of time')

    const summary = await readRequestLog([path])
    assert.equal(summary.walrusBytes, fromWalrus.byteLength)
    assert.equal(summary.missBytes, fromWalrus.byteLength + fromPeer.byteLength)
    const rows = replayLog(summary, ['aged-lfu'], [4 * MiB])
    assert.deepEqual(rows.map(r => [r.policy, r.fetchedBytes]), [['aged-lfu', summary.missBytes], ['offline', summary.missBytes]])
  })
})
