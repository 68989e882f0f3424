/**
 * An offline reference for the eviction policies: Belady's algorithm in its
 * size-aware form, on a policy-sim trace. On a miss the blob is kept only if
 * it will be asked for again; the cached blobs used farthest in the future
 * are dropped until it fits, unless one of them is needed before it, in
 * which case the new blob is not kept (bypass). With equal sizes this is
 * Belady's MIN, the exact optimum, so it bounds every policy. With mixed
 * sizes maximising the byte hit ratio is NP-hard and this is the usual
 * near-optimal heuristic (Belady-Size): a strong reference, not a proof, and
 * an online policy could beat it on some trace. It needs the future, so it
 * lives here and not in src/.
 */
import type { ReplayResult, Trace } from './policy-sim.js'

const NEVER = Number.POSITIVE_INFINITY

/** For each request, the index of the next request for the same blob, or Infinity. */
export function nextUses (requests: Uint32Array): Float64Array {
  const next = new Float64Array(requests.length)
  const seen = new Map<number, number>()
  for (let i = requests.length - 1; i >= 0; i--) {
    const object = requests[i] as number
    next[i] = seen.get(object) ?? NEVER
    seen.set(object, i)
  }
  return next
}

/** A max-heap of (next use, object), lazily cleaned: an entry is stale when the object's next use moved on. */
class FarthestFirst {
  private readonly uses: number[] = []
  private readonly objects: number[] = []

  push (use: number, object: number): void {
    this.uses.push(use)
    this.objects.push(object)
    let at = this.uses.length - 1
    while (at > 0) {
      const parent = (at - 1) >> 1
      if ((this.uses[parent] as number) >= use) break
      this.swap(at, parent)
      at = parent
    }
  }

  pop (): { use: number, object: number } | undefined {
    if (this.uses.length === 0) return undefined
    const out = { use: this.uses[0] as number, object: this.objects[0] as number }
    const lastUse = this.uses.pop() as number
    const lastObject = this.objects.pop() as number
    if (this.uses.length > 0) {
      this.uses[0] = lastUse
      this.objects[0] = lastObject
      let at = 0
      for (;;) {
        const left = 2 * at + 1
        let largest = at
        if (left < this.uses.length && (this.uses[left] as number) > (this.uses[largest] as number)) largest = left
        if (left + 1 < this.uses.length && (this.uses[left + 1] as number) > (this.uses[largest] as number)) largest = left + 1
        if (largest === at) break
        this.swap(at, largest)
        at = largest
      }
    }
    return out
  }

  private swap (a: number, b: number): void {
    const u = this.uses[a] as number
    this.uses[a] = this.uses[b] as number
    this.uses[b] = u
    const o = this.objects[a] as number
    this.objects[a] = this.objects[b] as number
    this.objects[b] = o
  }
}

/** The hit ratios of size-aware Belady on `trace` with `capacityBytes`, counting requests from `measureFrom` on, as `replay` does. */
export function offlineBound (trace: Trace, capacityBytes: number, measureFrom = 0): ReplayResult {
  const next = nextUses(trace.requests)
  const cached = new Map<number, number>()
  const heap = new FarthestFirst()
  let used = 0
  let hits = 0
  let hitBytes = 0
  let totalBytes = 0
  let measured = 0
  let evictions = 0
  for (let i = 0; i < trace.requests.length; i++) {
    const object = trace.requests[i] as number
    const size = trace.sizes[object] as number
    const use = next[i] as number
    const counted = i >= measureFrom
    if (counted) {
      measured++
      totalBytes += size
    }
    if (cached.has(object)) {
      if (counted) {
        hits++
        hitBytes += size
      }
      cached.set(object, use)
      heap.push(use, object)
      continue
    }
    if (use === NEVER || size > capacityBytes) continue
    const popped: Array<{ use: number, object: number }> = []
    let room = capacityBytes - used
    let bypass = false
    while (room < size) {
      const top = heap.pop()
      if (top == null) break
      if (cached.get(top.object) !== top.use) continue
      popped.push(top)
      if (top.use < use) {
        bypass = true
        break
      }
      room += trace.sizes[top.object] as number
    }
    if (bypass) {
      for (const top of popped) heap.push(top.use, top.object)
      continue
    }
    for (const top of popped) {
      cached.delete(top.object)
      used -= trace.sizes[top.object] as number
      evictions++
    }
    cached.set(object, use)
    heap.push(use, object)
    used += size
  }
  return { byteHitRatio: totalBytes === 0 ? 0 : hitBytes / totalBytes, objectHitRatio: measured === 0 ? 0 : hits / measured, evictions }
}
