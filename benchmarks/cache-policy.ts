// Byte and object hit ratios of the blob cache's eviction policies against LRU, ARC, W-TinyLFU and an offline bound, on seeded traces.
import { createPolicy, type PolicyName } from '../src/blob/cache/policy.js'
import { replay, zipfTrace, type Trace, type TraceInit } from '../sim/policy-sim.js'
import { offlineBound } from '../sim/offline-bound.js'
import { parseScriptArgs } from '../harness/script-args.js'

const MiB = 1024 * 1024
const GiB = 1024 * MiB
const NEW: PolicyName = 'aged-lfu'
const ONLINE: PolicyName[] = ['lru', 'gdsf', 'arc', 'wtinylfu']
const LABEL: Record<string, string> = { lru: 'LRU', gdsf: 'GDSF', arc: 'ARC', wtinylfu: 'W-TinyLFU', 'aged-lfu': 'aged LFU', offline: 'offline' }

const USAGE = 'usage: cache-policy [--seeds 1..100] [--quick] [--help]'

const { values, refuse } = parseScriptArgs('cache-policy', USAGE, {
  seeds: { type: 'string', default: '3' },
  quick: { type: 'boolean', default: false }
})

const seeds = Number(values.seeds)
if (!Number.isSafeInteger(seeds) || seeds <= 0 || seeds > 100) refuse(`--seeds takes an integer from 1 to 100, not ${JSON.stringify(values.seeds)}`)
const quick = values.quick
const policies = [...new Set([...ONLINE, NEW])]

interface Kind { title: string, init: Partial<TraceInit>, measureFromHalf: boolean }

const modelRequests = quick ? 60_000 : 200_000
const KINDS: Kind[] = [
  { title: 'Stationary popularity', init: {}, measureFromHalf: false },
  { title: 'Popularity reshuffled at the halfway request (second half measured)', init: { reshuffleAt: modelRequests / 2 }, measureFromHalf: true },
  { title: 'New versions of the 10 most popular models every 20,000 requests', init: { versionEvery: 20_000 }, measureFromHalf: false },
  { title: 'One-time blobs as a fifth of the requests', init: { oneTimeShare: 0.2 }, measureFromHalf: false }
]

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`
const ratio = (a: number, b: number): string => b === 0 ? '–' : (a / b).toFixed(3)
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length

/** Mean over seeds of each policy's hit ratio (byte or object), and the worst seed's ratio of the new policy to each baseline. */
function cell (traces: Trace[], share: number, measureFrom: number, metric: 'byteHitRatio' | 'objectHitRatio'): { means: Record<string, number>, worst: Record<string, number> } {
  const runs: Record<string, number[]> = {}
  for (const trace of traces) {
    const capacity = Math.floor(trace.catalogBytes * share)
    for (const name of policies) (runs[name] ??= []).push(replay(createPolicy(name, { capacityBytes: capacity }), trace, capacity, measureFrom)[metric])
    ;(runs.offline ??= []).push(offlineBound(trace, capacity, measureFrom)[metric])
  }
  const means = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, mean(v)]))
  const newRuns = runs[NEW] as number[]
  const worst = Object.fromEntries(['wtinylfu', 'arc'].map(k => [k, Math.min(...newRuns.map((x, i) => x / ((runs[k] as number[])[i] as number)))]))
  return { means, worst }
}

function header (): void {
  const cols = [...policies.map(p => LABEL[p] ?? p), 'offline']
  console.log(`| zipf s | cache | ${cols.join(' | ')} | new/W-TinyLFU | new/ARC | new/offline | worst seed new/W-TinyLFU | worst seed new/ARC |`)
  console.log(`|${'---:|'.repeat(cols.length + 7)}`)
}

function row (zipf: number, share: number, r: ReturnType<typeof cell>): void {
  const m = r.means
  const cols = [...policies, 'offline'].map(p => pct(m[p] as number))
  console.log(`| ${zipf.toFixed(1)} | ${pct(share)} | ${cols.join(' | ')} | ${ratio(m[NEW] as number, m.wtinylfu as number)} | ${ratio(m[NEW] as number, m.arc as number)} | ${ratio(m[NEW] as number, m.offline as number)} | ${(r.worst.wtinylfu as number).toFixed(3)} | ${(r.worst.arc as number).toFixed(3)} |`)
}

const started = performance.now()
console.log(`New policy: ${LABEL[NEW] ?? NEW}. ${seeds} seed(s), means over seeds.`)
console.log(`Model sizes: 1,000 blobs log-uniform 1 MiB–1 GiB, ${modelRequests.toLocaleString('en')} requests; cache as a share of the catalog's bytes; byte hit ratio.`)
for (const kind of KINDS) {
  console.log()
  console.log(`### ${kind.title}`)
  console.log()
  header()
  for (const zipf of [0.8, 1.0, 1.2]) {
    const traces = Array.from({ length: seeds }, (_, s) => zipfTrace({ objects: 1000, requests: modelRequests, zipf, minSize: MiB, maxSize: GiB, seed: 42 + s, ...kind.init }))
    for (const share of [0.05, 0.10, 0.25]) row(zipf, share, cell(traces, share, kind.measureFromHalf ? modelRequests / 2 : 0, 'byteHitRatio'))
  }
}

const unitObjects = quick ? 20_000 : 100_000
const unitRequests = quick ? 200_000 : 1_000_000
console.log()
console.log(`### Unit sizes: ${unitObjects.toLocaleString('en')} items, ${unitRequests.toLocaleString('en')} requests; object hit ratio`)
console.log()
header()
for (const zipf of [0.8, 1.0]) {
  const traces = Array.from({ length: quick ? 1 : Math.min(seeds, 2) }, (_, s) => zipfTrace({ objects: unitObjects, requests: unitRequests, zipf, minSize: 1, maxSize: 1, seed: 42 + s }))
  for (const share of [0.01, 0.10]) row(zipf, share, cell(traces, share, 0, 'objectHitRatio'))
}
console.log()
console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`)
