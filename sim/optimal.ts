/**
 * The offline optimum on a trace: what a mesh with perfect foresight could do.
 *
 * - Walrus: each model requested at all is read from Walrus exactly once, by
 *   its first request anywhere (walrusBytes = the sizes of the unique models
 *   requested); every other request is served by the node's own cache or a peer.
 * - Local hits: each node runs Belady's algorithm on its own requests, in a
 *   size-aware form: on a miss, the cached models whose next use at this
 *   node is farthest are evicted until the new one fits, unless one of them
 *   is needed sooner than the new one, in which case the new one is not kept
 *   (bypass); a model never asked for again at the node is not kept. Belady
 *   is exactly optimal for equal sizes; with mixed sizes the problem is
 *   NP-hard and this is the usual near-optimal heuristic. A node that
 *   leaves with `keepCache: false` comes back empty.
 * - Time to model: 0 for a local hit, RTT + size / peer bandwidth from a
 *   peer, latency + size / Walrus bandwidth from Walrus (no coordination
 *   wait: foresight needs none).
 */
import { cdfSamples, MAX_CDF_SAMPLES, nodeHitRateSpread, percentileOfSorted, sortedSamples } from './percentiles.js'
import { quotaBytesOf, type Scenario } from './scenario.js'
import type { StrategyMetrics, Trace } from './types.js'

/** One node's cache under Belady: model → next use (request index), and a lazy max-heap of (next use, model). */
class BeladyCache {
  used = 0
  readonly nextUse = new Map<number, number>()
  private readonly heapUse: number[] = []
  private readonly heapModel: number[] = []

  set (model: number, next: number): void {
    this.nextUse.set(model, next)
    this.push(next, model)
  }

  delete (model: number): void {
    this.nextUse.delete(model)
  }

  /** The cached model used farthest ahead (stale heap entries skipped), removed from the heap only. */
  popFarthest (): { model: number, next: number } | undefined {
    while (this.heapUse.length > 0) {
      const next = this.heapUse[0] as number
      const model = this.heapModel[0] as number
      this.popTop()
      if (this.nextUse.get(model) === next) return { model, next }
    }
    return undefined
  }

  push (next: number, model: number): void {
    const use = this.heapUse
    const models = this.heapModel
    let i = use.length
    use.push(next)
    models.push(model)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((use[parent] as number) >= next) break
      use[i] = use[parent] as number
      models[i] = models[parent] as number
      i = parent
    }
    use[i] = next
    models[i] = model
  }

  private popTop (): void {
    const use = this.heapUse
    const models = this.heapModel
    const lastUse = use.pop() as number
    const lastModel = models.pop() as number
    const n = use.length
    if (n === 0) return
    let i = 0
    while (true) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const child = r < n && (use[r] as number) > (use[l] as number) ? r : l
      if ((use[child] as number) <= lastUse) break
      use[i] = use[child] as number
      models[i] = models[child] as number
      i = child
    }
    use[i] = lastUse
    models[i] = lastModel
  }
}

export function optimalMetrics (scenario: Scenario, trace: Trace): StrategyMetrics {
  const { requests, churn } = trace
  const count = trace.models.length
  const sizes = trace.models.map(m => m.sizeBytes)
  const quota = quotaBytesOf(scenario, sizes.reduce((a, b) => a + b, 0))
  const net = scenario.network
  const n = requests.length

  // The next request for the same model at the same node, by index (Infinity: none).
  const next = new Float64Array(n)
  const seenAt = new Map<number, number>()
  for (let i = n - 1; i >= 0; i--) {
    const { node, model } = requests[i] as (typeof requests)[number]
    const key = node * count + model
    next[i] = seenAt.get(key) ?? Infinity
    seenAt.set(key, i)
  }

  const caches: Array<BeladyCache | undefined> = new Array(trace.nodes)
  const requested = new Uint8Array(count)
  const nodeRequests = new Uint32Array(trace.nodes)
  const nodeHits = new Uint32Array(trace.nodes)
  const ttm = new Float64Array(n)
  const wipe = scenario.churn?.keepCache === false
  let localHits = 0
  let peerHits = 0
  let walrusHits = 0
  let walrusBytes = 0
  let peerBytes = 0
  let c = 0

  for (let i = 0; i < n; i++) {
    const { atMs, node, model } = requests[i] as (typeof requests)[number]
    while (wipe && c < churn.length && (churn[c] as (typeof churn)[number]).atMs <= atMs) {
      const event = churn[c++] as (typeof churn)[number]
      if (event.kind === 'leave') caches[event.node] = undefined
    }
    const cache = caches[node] ?? (caches[node] = new BeladyCache())
    const size = sizes[model] as number
    const nextUse = next[i] as number
    nodeRequests[node] = (nodeRequests[node] as number) + 1

    if (cache.nextUse.has(model)) {
      localHits++
      nodeHits[node] = (nodeHits[node] as number) + 1
      ttm[i] = 0
      if (nextUse === Infinity) {
        cache.delete(model)
        cache.used -= size
      } else {
        cache.set(model, nextUse)
      }
      continue
    }
    if (requested[model] === 0) {
      requested[model] = 1
      walrusHits++
      walrusBytes += size
      ttm[i] = net.walrusLatencyMs + size / net.walrusBandwidthBytesPerSec * 1000
    } else {
      peerHits++
      peerBytes += size
      nodeHits[node] = (nodeHits[node] as number) + 1
      ttm[i] = net.peerRttMs + size / net.peerBandwidthBytesPerSec * 1000
    }
    if (nextUse === Infinity || size > quota) continue
    // Admit, evicting the farthest-needed models, unless one of them is needed before this one.
    const short = cache.used + size - quota
    if (short > 0) {
      const victims: Array<{ model: number, next: number }> = []
      let freed = 0
      let bypass = false
      while (freed < short) {
        const victim = cache.popFarthest()
        if (victim == null) break
        victims.push(victim)
        if (victim.next < nextUse) {
          bypass = true
          break
        }
        freed += sizes[victim.model] as number
      }
      if (bypass || freed < short) {
        for (const victim of victims) cache.push(victim.next, victim.model)
        continue
      }
      for (const victim of victims) {
        cache.delete(victim.model)
        cache.used -= sizes[victim.model] as number
      }
    }
    cache.set(model, nextUse)
    cache.used += size
  }

  const sorted = sortedSamples(ttm)
  return {
    requests: n,
    localHits,
    peerHits,
    walrusHits,
    walrusFetches: walrusHits,
    walrusBytes,
    timeToModelMs: { p50: percentileOfSorted(sorted, 50), p95: percentileOfSorted(sorted, 95), p99: percentileOfSorted(sorted, 99) },
    peerBytes,
    perNodeHitRate: nodeHitRateSpread(nodeRequests, nodeHits),
    timeToModelSamples: cdfSamples(sorted, MAX_CDF_SAMPLES)
  }
}
