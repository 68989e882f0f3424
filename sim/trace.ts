/**
 * The workload of a scenario as a trace: model sizes, requests (time, node,
 * model) and churn. Deterministic: the same scenario and seed give the same
 * trace, byte for byte, and every mode replays the same one.
 *
 * Each part draws from its own PRNG stream (src/seeded-random.ts), seeded
 * from the scenario's seed and the stream's number, so changing the node count, say, leaves the model sizes alone.
 */
import { fmix32 } from '../src/blob/cache/frequency-sketch.js'
import { seededRandom } from '../src/seeded-random.js'
import { ZipfSampler } from './zipf.js'
import type { ChurnEvent, Trace, TraceModel, TraceRequest } from './types.js'
import type { Scenario } from './scenario.js'

const STREAM_SIZES = 1
const STREAM_RANKING = 2
const STREAM_ARRIVALS = 3
const STREAM_CHURN = 4
const STREAM_PLACEMENT = 5
const STREAM_POPULARITY = 6
const STREAM_NODE_RANKING = 0x10000

/** The seed of one stream: a MurmurHash3 finaliser over the scenario's seed and the stream number. */
export function streamSeed (seed: number, stream: number): number {
  return fmix32((seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0)
}

function exponential (random: () => number, mean: number): number {
  return -Math.log(1 - random()) * mean
}

function shuffle (out: Uint32Array, random: () => number): void {
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = out[i] as number
    out[i] = out[j] as number
    out[j] = t
  }
}

export function generateModels (scenario: Scenario): TraceModel[] {
  const random = seededRandom(streamSeed(scenario.seed, STREAM_SIZES))
  const logMin = Math.log(scenario.models.minBytes)
  const logMax = Math.log(scenario.models.maxBytes)
  return Array.from({ length: scenario.models.count }, (_, index) => ({
    index,
    sizeBytes: Math.min(scenario.models.maxBytes, Math.max(scenario.models.minBytes, Math.round(Math.exp(logMin + random() * (logMax - logMin)))))
  }))
}

/** The mesh's ranking: the model at each popularity rank (0 the most popular), independent of size. */
export function popularityRanking (scenario: Scenario): Uint32Array {
  const ranking = Uint32Array.from({ length: scenario.models.count }, (_, i) => i)
  shuffle(ranking, seededRandom(streamSeed(scenario.seed, STREAM_RANKING)))
  return ranking
}

/** Poisson leaves across the mesh, each followed by a join after an exponential downtime; a leave never takes the last node that is up. */
function generateChurn (scenario: Scenario, horizonMs: number): ChurnEvent[] {
  const churn = scenario.churn
  if (churn == null || churn.leavesPerMinute === 0 || scenario.nodes < 2) return []
  const random = seededRandom(streamSeed(scenario.seed, STREAM_CHURN))
  const meanGapMs = 60_000 / churn.leavesPerMinute
  const up = Array.from({ length: scenario.nodes }, (_, i) => i)
  const position = Int32Array.from(up)
  const joins: Array<{ atMs: number, node: number }> = []
  const events: ChurnEvent[] = []
  const setDown = (node: number): void => {
    const at = position[node] as number
    const last = up.pop() as number
    if (last !== node) {
      up[at] = last
      position[last] = at
    }
    position[node] = -1
  }
  const setUp = (node: number): void => {
    position[node] = up.length
    up.push(node)
  }
  let nextLeave = exponential(random, meanGapMs)
  while (true) {
    const join = joins[0]
    if (join != null && join.atMs <= nextLeave) {
      joins.shift()
      if (join.atMs > horizonMs) break
      setUp(join.node)
      events.push({ atMs: join.atMs, node: join.node, kind: 'join' })
      continue
    }
    if (nextLeave > horizonMs) break
    if (up.length > 1) {
      const node = up[Math.floor(random() * up.length)] as number
      setDown(node)
      events.push({ atMs: round(nextLeave), node, kind: 'leave' })
      const atMs = round(nextLeave + exponential(random, churn.meanDowntimeMs))
      // Joins kept sorted by time (few are pending at once).
      let i = joins.length
      while (i > 0 && (joins[i - 1] as { atMs: number }).atMs > atMs) i--
      joins.splice(i, 0, { atMs, node })
    }
    nextLeave += exponential(random, meanGapMs)
  }
  return events
}

function round (ms: number): number {
  return Math.round(ms * 1000) / 1000
}

/**
 * The scenario's trace: sizes log-uniform, popularity Zipf(s) over a random
 * ranking (rank and size independent), Poisson arrivals across the mesh, each
 * request at a node picked uniformly among those up at that moment; with
 * `nodeSkew` > 0, that share of a node's requests follows the node's own
 * ranking of the catalog instead of the mesh's.
 */
export function generateTrace (scenario: Scenario): Trace {
  const { seed, nodes } = scenario
  const models = generateModels(scenario)
  const count = models.length
  const n = scenario.workload.requests

  // Arrivals.
  const arrivals = seededRandom(streamSeed(seed, STREAM_ARRIVALS))
  const meanGapMs = 1000 / scenario.workload.ratePerSec
  const times = new Float64Array(n)
  let t = 0
  for (let i = 0; i < n; i++) {
    t += exponential(arrivals, meanGapMs)
    times[i] = round(t)
  }
  const horizonMs = n === 0 ? 0 : times[n - 1] as number
  const churn = generateChurn(scenario, horizonMs)

  // Placement: a node that is up when the request arrives.
  const placement = seededRandom(streamSeed(seed, STREAM_PLACEMENT))
  const up = Array.from({ length: nodes }, (_, i) => i)
  const position = Int32Array.from(up)
  const nodeOf = new Uint32Array(n)
  let c = 0
  for (let i = 0; i < n; i++) {
    while (c < churn.length && (churn[c] as ChurnEvent).atMs <= (times[i] as number)) {
      const event = churn[c++] as ChurnEvent
      if (event.kind === 'join') {
        position[event.node] = up.length
        up.push(event.node)
      } else {
        const at = position[event.node] as number
        const last = up.pop() as number
        if (last !== event.node) {
          up[at] = last
          position[last] = at
        }
        position[event.node] = -1
      }
    }
    nodeOf[i] = up[Math.floor(placement() * up.length)] as number
  }

  // Popularity: a rank from Zipf(s), read through the mesh's ranking or the node's own.
  const popularity = seededRandom(streamSeed(seed, STREAM_POPULARITY))
  const zipf = new ZipfSampler(count, scenario.workload.zipf)
  const skew = scenario.workload.nodeSkew
  const rankOf = new Uint32Array(n)
  const own = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    rankOf[i] = zipf.rank(popularity())
    own[i] = skew > 0 && popularity() < skew ? 1 : 0
  }
  const global = popularityRanking(scenario)
  const modelOf = new Uint32Array(n)
  for (let i = 0; i < n; i++) modelOf[i] = global[rankOf[i] as number] as number
  if (skew > 0) applyNodeRankings(seed, nodes, count, nodeOf, rankOf, own, modelOf)

  const requests: TraceRequest[] = new Array(n)
  for (let i = 0; i < n; i++) requests[i] = { atMs: times[i] as number, node: nodeOf[i] as number, model: modelOf[i] as number }
  return { seed, nodes, models, requests, churn }
}

/**
 * Each node's own ranking is a uniformly random permutation from the node's
 * stream, built by a Fisher-Yates pass from the front that stops at the
 * deepest rank the node needs (and is then undone), so 10,000 nodes cost
 * what their requests touch, not 10,000 whole permutations.
 */
function applyNodeRankings (seed: number, nodes: number, count: number, nodeOf: Uint32Array, rankOf: Uint32Array, own: Uint8Array, modelOf: Uint32Array): void {
  const n = nodeOf.length
  // Requests of each node, grouped (counting sort), in trace order.
  const starts = new Uint32Array(nodes + 1)
  for (let i = 0; i < n; i++) {
    if (own[i] !== 1) continue
    const at = (nodeOf[i] as number) + 1
    starts[at] = (starts[at] as number) + 1
  }
  for (let v = 0; v < nodes; v++) starts[v + 1] = (starts[v + 1] as number) + (starts[v] as number)
  const fill = starts.slice(0, nodes)
  const grouped = new Uint32Array(starts[nodes] as number)
  for (let i = 0; i < n; i++) {
    if (own[i] !== 1) continue
    const v = nodeOf[i] as number
    grouped[fill[v] as number] = i
    fill[v] = (fill[v] as number) + 1
  }
  const perm = Uint32Array.from({ length: count }, (_, i) => i)
  const swaps: number[] = []
  for (let v = 0; v < nodes; v++) {
    const from = starts[v] as number
    const to = starts[v + 1] as number
    if (from === to) continue
    let deepest = 0
    for (let k = from; k < to; k++) deepest = Math.max(deepest, rankOf[grouped[k] as number] as number)
    const random = seededRandom(streamSeed(seed, STREAM_NODE_RANKING + v))
    for (let i = 0; i <= deepest && i < count - 1; i++) {
      const j = i + Math.floor(random() * (count - i))
      swaps.push(i, j)
      const x = perm[i] as number
      perm[i] = perm[j] as number
      perm[j] = x
    }
    for (let k = from; k < to; k++) {
      const i = grouped[k] as number
      modelOf[i] = perm[rankOf[i] as number] as number
    }
    for (let s = swaps.length - 2; s >= 0; s -= 2) {
      const i = swaps[s] as number
      const j = swaps[s + 1] as number
      const x = perm[i] as number
      perm[i] = perm[j] as number
      perm[j] = x
    }
    swaps.length = 0
  }
}
