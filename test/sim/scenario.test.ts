import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import { loadScenario, parseScenario, quotaBytesOf, type ScenarioInput } from '../../sim/scenario.js'
import { generateTrace, popularityRanking } from '../../sim/trace.js'
import { cdfSamples, percentiles } from '../../sim/percentiles.js'
import type { Trace } from '../../sim/types.js'

// Tests run from dist/test/sim; the scenario files stay in the source tree.
const SCENARIOS = fileURLToPath(new URL('../../../sim/scenarios/', import.meta.url))
const KiB = 1024
const MiB = 1024 * KiB

function base (): ScenarioInput {
  return {
    name: 'test',
    seed: 7,
    mode: 'live',
    nodes: 4,
    models: { count: 20, minBytes: 256 * KiB, maxBytes: 2 * MiB },
    cache: { quotaFraction: 0.3 },
    workload: { requests: 5000, ratePerSec: 50, zipf: 1.1 }
  }
}

function scenario (patch: (s: any) => void = () => {}): ReturnType<typeof parseScenario> {
  const input = structuredClone(base()) as any
  patch(input)
  return parseScenario(input)
}

function refused (patch: (s: any) => void, field: string): void {
  const input = structuredClone(base()) as any
  patch(input)
  assert.throws(() => parseScenario(input, 'bad.json'), (err: Error) => {
    assert.equal(err.name, 'ScenarioError')
    assert.ok(err.message.includes(field), `"${err.message}" names ${field}`)
    assert.ok(err.message.startsWith('bad.json is not valid'))
    return true
  })
}

function counts (trace: Trace, node?: number): number[] {
  const out = new Array<number>(trace.models.length).fill(0)
  for (const r of trace.requests) if (node == null || r.node === node) out[r.model] = (out[r.model] as number) + 1
  return out
}

const argmax = (values: number[]): number => values.indexOf(Math.max(...values))

describe('scenario', () => {
  it('loads every scenario file shipped in sim/scenarios', async () => {
    const files = (await readdir(SCENARIOS)).filter(f => f.endsWith('.json'))
    for (const required of ['small.json', 'medium.json', 'scale-1k.json', 'scale-10k.json']) assert.ok(files.includes(required), required)
    for (const file of files) {
      const s = await loadScenario(join(SCENARIOS, file))
      assert.equal(`${s.name}.json`, file)
    }
    const small = await loadScenario(join(SCENARIOS, 'small.json'))
    assert.equal(small.mode, 'live')
    assert.ok(small.nodes <= 8 && small.workload.requests <= 100)
    // About 15 s of arrivals: a live run finishes well within a minute.
    assert.ok(small.workload.requests / small.workload.ratePerSec <= 20)
    assert.equal((await loadScenario(join(SCENARIOS, 'scale-10k.json'))).nodes, 10_000)
  })

  it('fills defaults and resolves the quota', () => {
    const s = scenario()
    assert.equal(s.cache.policy, 'aged-lfu')
    assert.equal(s.workload.nodeSkew, 0)
    assert.equal(s.network.coordinationMs, 300)
    assert.equal(s.origin.latencyMs, 0)
    assert.equal(s.churn, undefined)
    assert.equal(quotaBytesOf(s, 1000), 300)
    assert.equal(quotaBytesOf(scenario(x => { x.cache = { quotaBytes: 123 } }), 1000), 123)
  })

  it('refuses bad fields, naming each', () => {
    refused(x => { x.workload.zipf = -1 }, 'workload.zipf')
    refused(x => { x.workload.ratePerSec = 0 }, 'workload.ratePerSec')
    refused(x => { x.workload.nodeSkew = 1.5 }, 'workload.nodeSkew')
    refused(x => { x.workload.zipff = 1 }, 'zipff')
    refused(x => { x.nodes = 64 }, 'nodes')
    refused(x => { x.mode = 'scale'; x.nodes = 10_001 }, 'nodes')
    refused(x => { x.nodes = 2.5 }, 'nodes')
    refused(x => { x.models.maxBytes = 1000 }, 'models.maxBytes')
    refused(x => { x.models.count = 0 }, 'models.count')
    refused(x => { x.cache = { quotaBytes: 10, quotaFraction: 0.1 } }, 'cache')
    refused(x => { x.cache = {} }, 'cache')
    refused(x => { x.cache.quotaFraction = 2 }, 'cache.quotaFraction')
    refused(x => { x.cache.policy = 'fifo' }, 'cache.policy')
    refused(x => { x.churn = { leavesPerMinute: 1 } }, 'churn.meanDowntimeMs')
    refused(x => { x.origin = { failureRate: 2 } }, 'origin.failureRate')
    refused(x => { x.network = { peerRttMs: -1 } }, 'network.peerRttMs')
    refused(x => { x.sweep = { nodeCounts: [0] } }, 'sweep.nodeCounts.0')
    refused(x => { delete x.seed }, 'seed')
    // A scale scenario may be large.
    assert.equal(scenario(x => { x.mode = 'scale'; x.nodes = 10_000 }).nodes, 10_000)
  })

  it('takes capped links for live mode only in namespaces, refusing a cap without them or out of range by field', () => {
    assert.equal(scenario().links, undefined)
    assert.deepEqual(scenario(x => { x.links = { namespaces: true, nodeCapBytesPerSec: 4 * MiB } }).links, { namespaces: true, nodeCapBytesPerSec: 4 * MiB })
    refused(x => { x.links = { namespaces: false, originCapBytesPerSec: MiB } }, 'links.originCapBytesPerSec')
    refused(x => { x.links = { namespaces: true, nodeCapBytesPerSec: 0 } }, 'links.nodeCapBytesPerSec')
    refused(x => { x.links = { namespaces: true, nodeCapBytesPerSec: 2 ** 40 } }, 'links.nodeCapBytesPerSec')
    refused(x => { x.links = { nodeCapBytesPerSec: MiB } }, 'links.namespaces')
    refused(x => { x.links = { namespaces: true, bridge: 'br0' } }, 'links')
    assert.equal(scenario(x => { x.links = { namespaces: true, queue: 'small-first' } }).links?.queue, 'small-first')
    refused(x => { x.links = { namespaces: true, queue: 'fq_codel' } }, 'links.queue')
    refused(x => { x.links = { namespaces: false, queue: 'small-first' } }, 'links.queue')
    // An upload pace is a node's setting: it needs no namespace, and is refused under what a slice needs.
    assert.equal(scenario(x => { x.links = { namespaces: false, uploadBytesPerSec: MiB } }).links?.uploadBytesPerSec, MiB)
    refused(x => { x.links = { namespaces: true, uploadBytesPerSec: 1000 } }, 'links.uploadBytesPerSec')
  })

  it('takes a list of policies to compare, and refuses an unknown or repeated one naming the field', () => {
    assert.deepEqual(scenario(x => { x.sweep = { policies: ['lru', 'arc', 'aged-lfu'] } }).sweep?.policies, ['lru', 'arc', 'aged-lfu'])
    assert.equal(scenario().sweep?.policies, undefined)
    refused(x => { x.sweep = { policies: ['lru', 'belady'] } }, 'sweep.policies.1')
    refused(x => { x.sweep = { policies: ['lru', 'arc', 'lru'] } }, 'sweep.policies.2')
    refused(x => { x.sweep = { policies: [] } }, 'sweep.policies')
    refused(x => { x.sweep = { policies: 'lru' } }, 'sweep.policies')
  })

  it('loadScenario refuses a missing file and a file that is not JSON, by name', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'herd-scenario-'))
    try {
      await assert.rejects(loadScenario(join(dir, 'none.json')), { name: 'ScenarioError' })
      await writeFile(join(dir, 'bad.json'), '{ nope')
      await assert.rejects(loadScenario(join(dir, 'bad.json')), { name: 'ScenarioError' })
      await writeFile(join(dir, 'field.json'), JSON.stringify({ ...base(), seed: -1 }))
      await assert.rejects(loadScenario(join(dir, 'field.json')), (err: Error) => err.name === 'ScenarioError' && err.message.includes('seed'))
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('trace', () => {
  it('is the same for the same scenario and seed, and differs for another seed', () => {
    const a = generateTrace(scenario())
    assert.deepEqual(generateTrace(scenario()), a)
    const b = generateTrace(scenario(x => { x.seed = 8 }))
    assert.notDeepEqual(b.requests, a.requests)
    assert.notDeepEqual(b.models, a.models)
    assert.equal(a.requests.length, 5000)
    assert.equal(a.seed, 7)
  })

  it('sizes are log-uniform within the bounds; more nodes leave the model sizes alone', () => {
    const s = scenario(x => { x.models.count = 2000 })
    const trace = generateTrace(s)
    for (const m of trace.models) assert.ok(m.sizeBytes >= 256 * KiB && m.sizeBytes <= 2 * MiB)
    // Log-uniform: about half the models below the geometric mean.
    const below = trace.models.filter(m => m.sizeBytes < Math.sqrt(256 * KiB * 2 * MiB)).length
    assert.ok(below > 900 && below < 1100, `${below}`)
    assert.deepEqual(generateTrace({ ...s, nodes: 9 }).models, trace.models)
  })

  it('Zipf skew: the most popular model gets the most requests, about its Zipf share', () => {
    const s = scenario()
    const trace = generateTrace(s)
    const ranking = popularityRanking(s)
    const c = counts(trace)
    assert.equal(argmax(c), ranking[0])
    let h = 0
    for (let r = 1; r <= 20; r++) h += 1 / r ** 1.1
    const share = (c[ranking[0] as number] as number) / trace.requests.length
    assert.ok(Math.abs(share - 1 / h) < 0.03, `share ${share} vs ${1 / h}`)
    assert.ok((c[ranking[0] as number] as number) > (c[ranking[10] as number] as number) * 5)
    // s = 0: uniform.
    const flat = counts(generateTrace(scenario(x => { x.workload.zipf = 0 })))
    assert.ok(Math.max(...flat) < 2 * Math.min(...flat))
  })

  it('Poisson arrivals at the given rate, in time order', () => {
    const trace = generateTrace(scenario())
    const times = trace.requests.map(r => r.atMs)
    for (let i = 1; i < times.length; i++) assert.ok((times[i] as number) >= (times[i - 1] as number))
    const meanGap = (times.at(-1) as number) / times.length
    assert.ok(Math.abs(meanGap - 20) < 1, `mean gap ${meanGap} ms`)
    // Exponential gaps: the standard deviation is about the mean.
    const gaps = times.map((t, i) => t - (i === 0 ? 0 : times[i - 1] as number))
    const sd = Math.sqrt(gaps.reduce((a, g) => a + (g - meanGap) ** 2, 0) / gaps.length)
    assert.ok(Math.abs(sd / meanGap - 1) < 0.1, `cv ${sd / meanGap}`)
  })

  it('per-node skew: nodes with their own rankings like different models', () => {
    const shared = generateTrace(scenario())
    const tops = (trace: Trace): Set<number> => new Set([0, 1, 2, 3].map(v => argmax(counts(trace, v))))
    assert.equal(tops(shared).size, 1)
    const skewed = generateTrace(scenario(x => { x.workload.nodeSkew = 1 }))
    assert.ok(tops(skewed).size >= 3, `${[...tops(skewed)]}`)
    // Every node still sees Zipf popularity: its own favourite dominates.
    const c = counts(skewed, 0)
    assert.ok(Math.max(...c) > 3 * (c.slice().sort((a, b) => a - b)[10] as number))
    // Nodes are picked uniformly.
    const perNode = [0, 1, 2, 3].map(v => skewed.requests.filter(r => r.node === v).length)
    for (const n of perNode) assert.ok(Math.abs(n - 1250) < 150, `${perNode}`)
  })

  it('churn: leaves and joins alternate per node, and a node that left gets no requests until it joins', () => {
    const s = scenario(x => { x.nodes = 8; x.churn = { leavesPerMinute: 60, meanDowntimeMs: 5000 } })
    const trace = generateTrace(s)
    assert.ok(trace.churn.length > 50, `${trace.churn.length} churn events`)
    assert.deepEqual(generateTrace(s).churn, trace.churn)
    const up = new Array<boolean>(8).fill(true)
    let c = 0
    for (const r of trace.requests) {
      while (c < trace.churn.length && (trace.churn[c] as { atMs: number }).atMs <= r.atMs) {
        const e = trace.churn[c++] as Trace['churn'][number]
        assert.equal(up[e.node], e.kind === 'leave', `node ${e.node} ${e.kind} at ${e.atMs}`)
        up[e.node] = e.kind === 'join'
      }
      assert.ok(up[r.node], `request at ${r.atMs} for node ${r.node}, which is down`)
      assert.ok(up.some(Boolean))
    }
    assert.equal(generateTrace(scenario()).churn.length, 0)
  })
})

describe('percentiles', () => {
  it('nearest rank, and CDF samples capped in number', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i)
    assert.deepEqual(percentiles(values), { p50: 50, p95: 95, p99: 99 })
    assert.deepEqual(percentiles([]), { p50: 0, p95: 0, p99: 0 })
    assert.deepEqual(percentiles([3]), { p50: 3, p95: 3, p99: 3 })
    const sorted = Float64Array.from({ length: 50_000 }, (_, i) => i)
    const samples = cdfSamples(sorted, 1000)
    assert.equal(samples.length, 1000)
    assert.equal(samples[0], 0)
    assert.equal(samples.at(-1), 49_999)
  })
})
