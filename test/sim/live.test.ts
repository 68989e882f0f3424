import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { checkLiveScenario, liveDiskBytes, runLive, runningHerdPids, type LiveMetrics } from '../../sim/live.js'
import { runScale } from '../../sim/scale.js'
import { parseScenario } from '../../sim/scenario.js'
import { generateTrace } from '../../sim/trace.js'
import type { StrategyMetrics, Trace } from '../../sim/types.js'

const KiB = 1024
/** How far live and scale hit rates may be apart, in percentage points. */
const AGREEMENT_POINTS = 10

/** PIDs of processes whose command line mentions `dir`: anything live mode left behind. */
async function processesUnder (dir: string): Promise<number[]> {
  const found: number[] = []
  for (const entry of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')
    if (cmdline.includes(dir)) found.push(Number(entry))
  }
  return found
}

function scenario (churn: boolean): ReturnType<typeof parseScenario> {
  return parseScenario({
    name: 'live-tiny',
    seed: 7,
    nodes: 3,
    models: { count: 3, minBytes: 200 * KiB, maxBytes: 210 * KiB },
    cache: { quotaBytes: 4 * 1024 * KiB },
    workload: { requests: 12, ratePerSec: 4, zipf: 1 },
    ...(churn ? { churn: { leavesPerMinute: 20, meanDowntimeMs: 800 } } : {}),
    // A distant origin: 60 ms to the first byte, 1 MiB/s per response.
    origin: { latencyMs: 60, bandwidthBytesPerSec: 1024 * KiB, failureRate: 0 }
  })
}

/** 12 requests over ~3 s on 3 nodes: each model asked for on several nodes, a few repeats on one node. */
function tinyTrace (churn: boolean): Trace {
  const at = [0, 150, 300, 700, 900, 1100, 1500, 1800, 2100, 2400, 2700, 3000]
  const placement: Array<[number, number]> = [[0, 0], [1, 1], [2, 2], [1, 0], [2, 1], [0, 2], [2, 0], [0, 1], [1, 2], [0, 0], [1, 1], [2, 2]]
  const requests = at.map((atMs, i) => ({ atMs, node: placement[i]![0], model: placement[i]![1] }))
  const trace: Trace = {
    seed: 7,
    nodes: 3,
    models: [0, 1, 2].map(index => ({ index, sizeBytes: (200 + 5 * index) * KiB })),
    requests,
    churn: []
  }
  if (churn) {
    // Node 2 leaves at 1.2 s and comes back at 1.7 s: its requests in between are dropped, as the trace generator does.
    trace.churn = [{ atMs: 1200, node: 2, kind: 'leave' }, { atMs: 1700, node: 2, kind: 'join' }]
    trace.requests = requests.filter(r => !(r.node === 2 && r.atMs > 1200 && r.atMs < 1700))
  }
  return trace
}

function accounted (m: LiveMetrics): void {
  assert.equal(m.localHits + m.peerHits + m.walrusHits + m.failed, m.requests, JSON.stringify(m))
}

describe('live mode: what it refuses before starting anything', () => {
  it('refuses more nodes than processes fit, and more bytes than the disk has free, naming the way out', () => {
    const big = parseScenario({ name: 'too-many', seed: 1, nodes: 33, mode: 'scale', models: { count: 2, minBytes: KiB, maxBytes: KiB }, cache: { quotaBytes: 4 * KiB }, workload: { requests: 10, ratePerSec: 1, zipf: 1 } })
    assert.throws(() => { checkLiveScenario(big, generateTrace(big), Number.MAX_SAFE_INTEGER) }, (err: Error) => err.name === 'LiveScenarioError' && /at most 32 nodes/.test(err.message) && /herd sim scale/.test(err.message))
    const small = scenario(false)
    const trace = tinyTrace(false)
    // Three models of 200-210 KiB once on Walrus, the largest again while pushed, three caches of 4 MiB.
    assert.equal(liveDiskBytes(small, trace), (200 + 205 + 210) * KiB + 210 * KiB + 3 * 4096 * KiB)
    assert.throws(() => { checkLiveScenario(small, trace, liveDiskBytes(small, trace) - 1) }, (err: Error) => err.name === 'LiveScenarioError' && /disk/.test(err.message))
    checkLiveScenario(small, trace, liveDiskBytes(small, trace))
  })
})

// A bound on the whole, not a speed target: about 90 s on a quiet machine, four runs of real processes.
describe('live mode: real herd processes replaying a trace', { timeout: 240_000 }, () => {
  let root: string
  before(async () => { root = await mkdtemp(join(tmpdir(), 'herd-live-')) })
  after(async () => { await rm(root, { recursive: true, force: true }) })

  it('mesh sends no more to Walrus than nodes alone, every request is accounted for, and no process is left', async () => {
    const trace = tinyTrace(false)
    const progress: number[] = []
    const mesh = await runLive({ scenario: scenario(false), trace, strategy: 'mesh', workDir: join(root, 'mesh'), onProgress: done => progress.push(done) })
    const noMesh = await runLive({ scenario: scenario(false), trace, strategy: 'noMesh', workDir: join(root, 'no-mesh') })
    console.log('mesh', JSON.stringify({ ...mesh, timeToModelSamples: undefined }))
    console.log('noMesh', JSON.stringify({ ...noMesh, timeToModelSamples: undefined }))
    for (const m of [mesh, noMesh]) {
      assert.equal(m.requests, trace.requests.length)
      accounted(m)
      assert.ok(m.failed <= 1, `failures: ${m.live.errors.join('; ')}`)
      assert.ok(m.walrusBytes > 0 && m.walrusFetches > 0)
      assert.ok(m.timeToModelMs.p50 > 0 && m.timeToModelMs.p99 >= m.timeToModelMs.p50)
      assert.ok(m.live.inferenceRuns > 0 && m.inferenceMs != null && m.inferenceMs.p50 > 0)
      // A request whose own download ran says how long it waited before that download began; one the node held, or that joined a running download, has no such wait.
      assert.ok(m.live.slowest.some(t => t.startMs != null), 'some slow request says when its own download began')
      for (const t of m.live.slowest) {
        if (t.source === 'local' || t.joined) assert.equal(t.startMs, undefined, JSON.stringify(t))
        else if (t.startMs != null) assert.ok(t.startMs >= 0 && t.startMs <= t.ms, JSON.stringify(t))
      }
    }
    assert.equal(progress.length, trace.requests.length)
    assert.equal(progress.at(-1), trace.requests.length)
    // Alone, each node pulls each model it wants from Walrus once: 3 nodes × 3 models.
    assert.equal(noMesh.peerHits, 0)
    assert.equal(noMesh.peerBytes, 0)
    assert.ok(mesh.walrusBytes <= noMesh.walrusBytes, `mesh ${mesh.walrusBytes} bytes from Walrus, alone ${noMesh.walrusBytes}`)
    assert.ok(mesh.peerHits > 0 && mesh.peerBytes > 0, 'the mesh served some models from peers')
    // On the wire: every model byte a peer sent, and gossip and encryption besides; alone, nothing.
    assert.ok((mesh.wireBytes ?? 0) > mesh.peerBytes, `wire ${mesh.wireBytes} vs peer bytes ${mesh.peerBytes}`)
    assert.ok((mesh.live.wireBytesByProtocol['/herd/blob/1.0.0'] ?? 0) >= mesh.peerBytes)
    assert.equal(noMesh.wireBytes, 0)
    // The node processes' CPU over each replay, read from /proc: some, and never more than the machine has.
    if (process.platform === 'linux') {
      for (const m of [mesh, noMesh]) {
        assert.ok(m.machine != null && m.machine.nodeCpuSeconds > 0, JSON.stringify(m.machine))
        assert.ok(m.machine.nodeCores <= m.machine.machineCores && m.machine.saturatedShare >= 0 && m.machine.saturatedShare <= 1)
      }
    }
    assert.deepEqual(runningHerdPids(), [])
    assert.deepEqual(await processesUnder(root), [])
  })

  it('agrees with scale mode on the same trace: local and total hit rates within a few points, mesh and no mesh', async () => {
    // 3 nodes, 4 models, 40 requests over about 10 s; scale mode's network set to the shaped origin and loopback.
    const agreeing = parseScenario({
      name: 'live-vs-scale',
      seed: 11,
      nodes: 3,
      models: { count: 4, minBytes: 150 * KiB, maxBytes: 300 * KiB },
      cache: { quotaFraction: 0.5 },
      workload: { requests: 40, ratePerSec: 4, zipf: 1, nodeSkew: 0.2 },
      origin: { latencyMs: 60, bandwidthBytesPerSec: 1024 * KiB, failureRate: 0 },
      network: { peerBandwidthBytesPerSec: 50 * 1024 * KiB, peerRttMs: 2, walrusBandwidthBytesPerSec: 1024 * KiB, walrusLatencyMs: 60 }
    })
    const trace = generateTrace(agreeing)
    const predicted = runScale(agreeing, trace)
    const rate = (m: StrategyMetrics, hits: number): number => 100 * hits / m.requests
    for (const strategy of ['mesh', 'noMesh'] as const) {
      const live = await runLive({ scenario: agreeing, trace, strategy, workDir: join(root, `agree-${strategy}`) })
      const scale = predicted[strategy]
      accounted(live)
      assert.equal(live.failed, 0, live.live.errors.join('; '))
      const gaps = {
        local: rate(live, live.localHits) - rate(scale, scale.localHits),
        hit: rate(live, live.localHits + live.peerHits) - rate(scale, scale.localHits + scale.peerHits)
      }
      console.log(strategy, 'live − scale, points:', JSON.stringify(gaps), 'live', [live.localHits, live.peerHits, live.walrusHits], 'scale', [scale.localHits, scale.peerHits, scale.walrusHits])
      // A few points: one request is 2.5 here, and request timing on a shared machine moves one or two across a download's end.
      for (const [measure, gap] of Object.entries(gaps)) assert.ok(Math.abs(gap) <= AGREEMENT_POINTS, `${strategy} ${measure}: live and scale ${gap.toFixed(1)} points apart`)
    }
  })

  it('a node that leaves and joins again: requests still accounted for, nothing left running, every process\'s log kept', async () => {
    const trace = tinyTrace(true)
    const logs = join(root, 'churn-logs')
    const mesh = await runLive({ scenario: scenario(true), trace, strategy: 'mesh', workDir: join(root, 'churn'), processLogs: { dir: logs, debug: 'herd:mesh:fetcher' } })
    console.log('mesh with churn', JSON.stringify({ ...mesh, timeToModelSamples: undefined }))
    accounted(mesh)
    assert.equal(mesh.requests, trace.requests.length)
    assert.equal(mesh.live.nodeStarts, 4, 'three starts and one restart')
    assert.ok(mesh.failed <= 2, `failures: ${mesh.live.errors.join('; ')}`)
    assert.deepEqual(runningHerdPids(), [])
    assert.deepEqual(await processesUnder(root), [])
    // One file a process, a restarted node's appended to; the debug logger asked for is on, and only it.
    assert.deepEqual((await readdir(logs)).sort(), ['devnet.log', 'node-0.log', 'node-1.log', 'node-2.log'])
    const nodeLogs = await Promise.all([0, 1, 2].map(async i => readFile(join(logs, `node-${i}.log`), 'utf8')))
    const fetched = nodeLogs.join('').match(/herd:mesh:fetcher fetched /g)?.length ?? 0
    assert.ok(fetched >= trace.requests.length - mesh.localHits - mesh.failed - 2, `${fetched} downloads logged for ${trace.requests.length} requests`)
    assert.doesNotMatch(nodeLogs.join(''), /herd:mesh:download /)
  })

  it('an abort stops everything and rejects', async () => {
    const trace = tinyTrace(false)
    const controller = new AbortController()
    const run = runLive({ scenario: scenario(false), trace, strategy: 'mesh', workDir: join(root, 'abort'), signal: controller.signal })
    setTimeout(() => { controller.abort(new Error('stop now')) }, 2_500)
    await assert.rejects(run, /stop now/)
    assert.deepEqual(runningHerdPids(), [])
    assert.deepEqual(await processesUnder(root), [])
  })
})
