import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { request } from 'undici'
import type { HerdNode } from '../../src/node.js'
import { spawnCli, type Spawned } from '../helpers/devnet.js'
import { type Devnet, devnetForSuite, randomModel, startNodes, stopNodes, waitFor } from '../helpers/mesh.js'

const CHUNK = 256 * 1024

async function getJson (url: string): Promise<any> {
  const response = await request(url)
  return response.body.json()
}

/** Starts `herd start` in its own process, so it can be killed. */
async function spawnNode (dataDir: string, devnet: Devnet, configPath: string): Promise<Spawned> {
  return spawnCli(['start', '--data-dir', dataDir, '--walrus', devnet.walrus.url, '--ledger', devnet.ledgerUrl, '--api-port', '0', '--config', configPath])
}

describe('the mesh under faults: nodes killed while serving and while downloading', () => {
  const suite = devnetForSuite()
  let configPath: string

  before(async () => {
    configPath = join(suite.dir, 'node.json')
    await writeFile(configPath, JSON.stringify({
      mesh: { digestIntervalMs: 1000, providerTtlMs: 10000, privateNetwork: true, dhtProvide: false, allow: ['/ip4/127.0.0.1'] },
      fetch: { coordinationMs: 300, stallMs: 1500, haveIntervalMs: 100, requestBytes: CHUNK * 4, walrusReads: 2 }
    }))
  })

  it('a node killed in the middle of serving: the downloader completes from Walrus', async () => {
    const bytes = randomModel(24 * 1024 * 1024)
    const { blobId } = await suite.devnet.publish(bytes, { chunkSize: CHUNK })
    const holder = await spawnNode(join(suite.dir, 'holder'), suite.devnet, configPath)
    const nodes = await startNodes(1, join(suite.dir, 'serving'), suite.devnet)
    const [downloader] = nodes as [HerdNode]
    try {
      const warm = await request(`${holder.ready.api}/v1/blobs/${blobId}`)
      assert.equal((await warm.body.arrayBuffer()).byteLength, bytes.byteLength)
      await downloader.libp2p.dial(holder.ready.multiaddrs.map((a: string) => multiaddr(a)))
      await waitFor('the downloader to hear of the holder', () => downloader.providers.providers(blobId).some(p => p.peerId === holder.ready.peerId && p.state === 'holder'))
      let killed = false
      const entry = await downloader.fetcher.fetch(blobId, {
        onProgress: event => {
          if (!killed && event.type === 'fetch:chunk' && event.source === 'peer') {
            killed = true
            holder.child.kill('SIGKILL')
          }
        }
      })
      assert.ok(killed, 'the holder was killed mid-transfer')
      assert.equal(entry.size, bytes.byteLength)
      const { bytesFromPeers, bytesFromWalrus } = downloader.fetcher.counters
      assert.ok(bytesFromPeers > 0 && bytesFromWalrus > 0, `peers ${bytesFromPeers}, Walrus ${bytesFromWalrus}`)
      assert.ok(bytesFromPeers + bytesFromWalrus < bytes.byteLength * 1.1)
      const handle = await downloader.cache.open(blobId)
      assert.ok(handle != null)
      try {
        assert.deepEqual(Buffer.from(await handle.read(0, bytes.byteLength)), Buffer.from(bytes))
      } finally {
        handle.release()
      }
    } finally {
      await holder.stop('SIGKILL')
      await stopNodes(nodes)
    }
  })

  it('a node killed in the middle of downloading resumes after restart without fetching held chunks again', async () => {
    const bytes = randomModel(8 * 1024 * 1024)
    const { blobId } = await suite.devnet.publish(bytes, { chunkSize: CHUNK })
    const chunks = bytes.byteLength / CHUNK
    const dataDir = join(suite.dir, 'resumer')
    suite.devnet.walrus.setShaping({ bandwidthBytesPerSec: 1024 * 1024 })
    let node = await spawnNode(dataDir, suite.devnet, configPath)
    let held = 0
    try {
      const pending = request(`${node.ready.api}/v1/blobs/${blobId}`).then(async r => r.body.dump()).catch(() => {})
      await waitFor('a quarter of the chunks to be held', async () => {
        const status = await getJson(`${node.ready.api}/status`)
        held = status.cache.downloads.find((d: { blobId: string }) => d.blobId === blobId)?.held ?? 0
        return held >= chunks / 4
      }, 30_000, 20)
      node.child.kill('SIGKILL')
      await node.stop('SIGKILL')
      await pending
    } finally {
      suite.devnet.walrus.setShaping({ bandwidthBytesPerSec: 0 })
    }
    const servedBefore = suite.devnet.walrus.stats.bytesServed
    node = await spawnNode(dataDir, suite.devnet, configPath)
    try {
      const status = await getJson(`${node.ready.api}/status`)
      const resumable = status.cache.downloads.find((d: { blobId: string }) => d.blobId === blobId)
      assert.ok(resumable != null && resumable.held >= held - 8, `held ${resumable?.held} after the restart, ${held} before (a few unsynced chunks may be fetched again)`)
      const response = await request(`${node.ready.api}/v1/blobs/${blobId}`)
      assert.equal(response.statusCode, 200)
      assert.deepEqual(Buffer.from(await response.body.arrayBuffer()), Buffer.from(bytes))
      const fetchedAgain = suite.devnet.walrus.stats.bytesServed - servedBefore
      const missing = (chunks - resumable.held) * CHUNK
      assert.ok(fetchedAgain <= missing, `fetched ${fetchedAgain} bytes after the restart; ${missing} were missing`)
      assert.equal(await node.stop('SIGTERM'), 0, 'SIGTERM stops the node cleanly')
      assert.ok(node.lines.some(line => line.includes('"event":"stopped"')))
    } finally {
      await node.stop('SIGKILL')
    }
  })
})

