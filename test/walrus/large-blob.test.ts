import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { open, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { ChunkTreeBuilder, chunkTreeOfFile } from '../../src/blob/chunk-tree.js'
import { WalrusHttpClient } from '../../src/walrus/http-client.js'
import { spawnCli, tempDir } from '../helpers/devnet.js'

const MiB = 1024 * 1024
const SIZE = 256 * MiB
/** Streaming keeps the client's memory flat: allow buffers and the runtime's own growth, far below the blob. */
const MAX_RSS_GROWTH = 96 * MiB

describe('a 256 MiB blob', () => {
  it('goes through put and get with bounded memory', { timeout: 10 * 60_000 }, async () => {
    await using dir = await tempDir()
    const source = join(dir.path, 'big.bin')
    const builder = new ChunkTreeBuilder()
    const handle = await open(source, 'w')
    for (let written = 0; written < SIZE; written += MiB) {
      const piece = randomBytes(MiB)
      builder.update(piece)
      await handle.write(piece)
    }
    await handle.close()
    const expected = builder.digest()

    // 1000 shards: RS2 at 10 shards cannot encode more than 1.8 MB. The local Walrus runs in its own process: its encoder needs the whole blob in memory, the client must not.
    const devnet = await spawnCli(['devnet', '--dir', join(dir.path, 'devnet'), '--walrus-port', '0', '--ledger-port', '0', '--shards', '1000', '--max-blob-bytes', String(SIZE + MiB)])
    const http = new WalrusHttpClient({ publisher: devnet.ready.walrus, aggregator: devnet.ready.walrus })
    // Collect the garbage of writing the source file, so the baseline is the process at rest.
    setFlagsFromString('--expose-gc')
    ;(runInNewContext('gc') as () => void)()
    const baseline = process.memoryUsage().rss
    let peak = baseline
    const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 20)
    try {
      const stored = await http.putFile(source)
      assert.equal(stored.size, SIZE)
      const copy = join(dir.path, 'copy.bin')
      let progressEvents = 0
      const { bytes } = await http.getToFile(stored.blobId, copy, { onProgress: () => { progressEvents++ } })
      assert.equal(bytes, SIZE)
      assert.equal((await stat(copy)).size, SIZE)
      assert.ok(progressEvents > 10)
      peak = Math.max(peak, process.memoryUsage().rss)
      const growth = peak - baseline
      process.stdout.write(`# rss growth through put+get of ${SIZE / MiB} MiB: ${(growth / MiB).toFixed(1)} MiB\n`)
      assert.ok(growth < MAX_RSS_GROWTH, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`)
      const received = await chunkTreeOfFile(copy)
      assert.deepEqual(received.root, expected.root, 'the copy has the same chunk root')
    } finally {
      clearInterval(sampler)
      await http.close()
      await devnet.stop()
    }
  })
})
