// Byte and object hit ratios of the blob cache's eviction policies, GDSF against the LRU baseline, on seeded Zipf traces.
import { parseArgs } from 'node:util'
import { GdsfPolicy, LruPolicy, type EvictionPolicy } from '../src/blob/cache/policy.js'
import { replay, zipfTrace, type Trace } from '../src/blob/cache/policy-sim.js'

const MiB = 1024 * 1024
const GiB = 1024 * MiB
const ZIPF = [0.8, 1.0, 1.2]
const CACHE_SHARES = [0.05, 0.10, 0.25]
const BETAS = [0, 0.5, 0.75, 0.9, 1]

const { values } = parseArgs({
  options: {
    objects: { type: 'string', default: '1000' },
    requests: { type: 'string', default: '200000' },
    seed: { type: 'string', default: '42' },
    tune: { type: 'boolean', default: false }
  }
})

function positiveInt (name: string, value: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got ${value}`)
  return n
}

const objects = positiveInt('objects', values.objects)
const requests = positiveInt('requests', values.requests)
const seed = positiveInt('seed', values.seed)
const half = Math.floor(requests / 2)

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`

function traceOf (zipf: number, reshuffle: boolean): Trace {
  return zipfTrace({ objects, requests, zipf, minSize: MiB, maxSize: GiB, seed, reshuffleAt: reshuffle ? half : undefined })
}

/** With a reshuffle, only the second half is measured: how well the policy forgot the first. */
function run (policy: EvictionPolicy, trace: Trace, share: number, reshuffle: boolean): { bhr: number, ohr: number } {
  const result = replay(policy, trace, Math.floor(trace.catalogBytes * share), reshuffle ? half : 0)
  return { bhr: result.byteHitRatio, ohr: result.objectHitRatio }
}

console.log(`${objects} blobs, sizes log-uniform 1 MiB–1 GiB, ${requests.toLocaleString('en')} requests, seed ${seed}; cache size as a share of the catalog's bytes`)
const started = performance.now()
for (const reshuffle of [false, true]) {
  console.log()
  console.log(reshuffle
    ? '### Popularity reshuffled at the halfway request (aging check; hit ratios of the second half only)'
    : '### Stationary popularity')
  console.log()
  console.log('| zipf s | cache | LRU byte HR | GDSF byte HR | gdsf/lru | LRU object HR | GDSF object HR | gdsf/lru |')
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const zipf of ZIPF) {
    const trace = traceOf(zipf, reshuffle)
    for (const share of CACHE_SHARES) {
      const lru = run(new LruPolicy(), trace, share, reshuffle)
      const gdsf = run(new GdsfPolicy(), trace, share, reshuffle)
      console.log(`| ${zipf.toFixed(1)} | ${pct(share)} | ${pct(lru.bhr)} | ${pct(gdsf.bhr)} | ${(gdsf.bhr / lru.bhr).toFixed(2)} | ${pct(lru.ohr)} | ${pct(gdsf.ohr)} | ${(gdsf.ohr / lru.ohr).toFixed(2)} |`)
    }
  }
}

if (values.tune) {
  console.log()
  console.log('### GDSF cost = size^beta: mean over the 9 cells above (zipf × cache size)')
  console.log()
  console.log('| beta | byte HR | object HR | byte HR, reshuffled | object HR, reshuffled |')
  console.log('|---:|---:|---:|---:|---:|')
  const traces = ZIPF.flatMap(zipf => [false, true].map(reshuffle => ({ reshuffle, trace: traceOf(zipf, reshuffle) })))
  for (const beta of BETAS) {
    const sum = [0, 0, 0, 0]
    for (const { reshuffle, trace } of traces) {
      for (const share of CACHE_SHARES) {
        const r = run(new GdsfPolicy({ beta }), trace, share, reshuffle)
        const at = reshuffle ? 2 : 0
        sum[at] = (sum[at] as number) + r.bhr / 9
        sum[at + 1] = (sum[at + 1] as number) + r.ohr / 9
      }
    }
    console.log(`| ${beta} | ${sum.map(x => pct(x)).join(' | ')} |`)
  }
}
console.log()
console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`)
