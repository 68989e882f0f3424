import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { listHerdNamespaces, netnsUnavailable } from '../../harness/netns.js'
import { runLive, runningHerdPids } from '../../sim/live.js'
import { parseScenario } from '../../sim/scenario.js'
import type { Trace } from '../../sim/types.js'

const KiB = 1024
const MiB = 1024 * KiB
const ORIGIN_CAP = 512 * KiB
const unavailable = await netnsUnavailable()

// Skipped, with the reason, only where namespaces cannot be made. Bounded: one live run of two nodes takes under a minute on two busy cores.
describe('live mode on real links: the devnet and each node in a namespace, the origin capped', { skip: unavailable ?? false, timeout: 240_000 }, () => {
  let root: string
  before(async () => { root = await mkdtemp(join(tmpdir(), 'herd-live-links-')) })
  after(async () => { await rm(root, { recursive: true, force: true }) })

  it('a request for a model waits for the capped origin link, and no namespace or process is left', async () => {
    const scenario = parseScenario({
      name: 'live-links',
      seed: 3,
      nodes: 2,
      models: { count: 1, minBytes: MiB, maxBytes: MiB },
      cache: { quotaBytes: 4 * MiB },
      workload: { requests: 2, ratePerSec: 1, zipf: 1 },
      links: { namespaces: true, nodeCapBytesPerSec: 4 * MiB, originCapBytesPerSec: ORIGIN_CAP }
    })
    // Both nodes alone with Walrus ask for the same 1 MiB model at once: on loopback that takes milliseconds.
    const trace: Trace = { seed: 3, nodes: 2, models: [{ index: 0, sizeBytes: MiB }], requests: [{ atMs: 0, node: 0, model: 0 }, { atMs: 0, node: 1, model: 0 }], churn: [] }
    const metrics = await runLive({ scenario, trace, strategy: 'noMesh', workDir: join(root, 'run'), infer: false })
    assert.equal(metrics.walrusHits, 2, metrics.live.errors.join('; '))
    assert.ok(metrics.walrusBytes >= 2 * MiB)
    // Two copies through one link of 512 KiB/s take 4 s; the token bucket lets its first 64 KiB through at once, so each request
    // waits at least (1 MiB - 64 KiB) / 512 KiB/s = 1.9 s, however fast or slow the machine.
    assert.ok(metrics.timeToModelMs.p50 >= (MiB - 64 * KiB) / ORIGIN_CAP * 1000, `time to model ${metrics.timeToModelMs.p50} ms`)
    assert.deepEqual((await listHerdNamespaces()).filter(n => n.startsWith(`herd-sw-${process.pid}-`)), [])
    assert.deepEqual(runningHerdPids(), [])
  })
})
