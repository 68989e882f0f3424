import assert from 'node:assert/strict'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { quickNodeConfig, startNode } from '../harness/in-process-mesh.js'
import { devnetForSuite, stopNodes } from './helpers/mesh.js'

describe('a node\'s tmp dir', () => {
  const suite = devnetForSuite()

  it('is cleared at start, where a crash left what a process was in the middle of, but not by a second process on a data dir in use', async () => {
    const dataDir = join(suite.dir, 'tmp-left')
    const tmp = join(dataDir, 'tmp')
    await mkdir(tmp, { recursive: true })
    await writeFile(join(tmp, 'bundle-0a.part'), 'left by an older version')
    await writeFile(join(tmp, 'relay-x-1234'), 'left by a relay')
    const node = await startNode(quickNodeConfig(dataDir, suite.devnet))
    try {
      assert.deepEqual(await readdir(tmp).catch(() => []), [])
      await mkdir(tmp, { recursive: true })
      await writeFile(join(tmp, 'relay-y-5678'), 'a relay in progress')
      await assert.rejects(startNode(quickNodeConfig(dataDir, suite.devnet)))
      assert.deepEqual(await readdir(tmp), ['relay-y-5678'], 'the running node\'s file is kept')
    } finally {
      await stopNodes([node])
    }
  })
})
