/**
 * A binary min-heap of string keys whose priority can change: O(log n) set,
 * delete and pop. Ties go to the lower sequence number, so the order never
 * depends on Map or engine internals (the simulation replays it exactly).
 */
export class IndexedMinHeap {
  private readonly keys: string[] = []
  private readonly priorities: number[] = []
  private readonly seqs: number[] = []
  private readonly position = new Map<string, number>()

  get size (): number {
    return this.keys.length
  }

  has (key: string): boolean {
    return this.position.has(key)
  }

  priority (key: string): number | undefined {
    const at = this.position.get(key)
    return at == null ? undefined : this.priorities[at]
  }

  /** Inserts `key`, or moves it to its new priority. */
  set (key: string, priority: number, seq: number): void {
    let at = this.position.get(key)
    if (at == null) {
      at = this.keys.length
      this.keys.push(key)
      this.priorities.push(priority)
      this.seqs.push(seq)
      this.position.set(key, at)
      this.up(at)
      return
    }
    this.priorities[at] = priority
    this.seqs[at] = seq
    this.down(this.up(at))
  }

  delete (key: string): boolean {
    const at = this.position.get(key)
    if (at == null) return false
    const last = this.keys.length - 1
    if (at !== last) this.swap(at, last)
    this.keys.pop()
    this.priorities.pop()
    this.seqs.pop()
    this.position.delete(key)
    if (at !== last) this.down(this.up(at))
    return true
  }

  peek (): string | undefined {
    return this.keys[0]
  }

  pop (): { key: string, priority: number, seq: number } | undefined {
    const key = this.keys[0]
    if (key == null) return undefined
    const out = { key, priority: this.priorities[0] as number, seq: this.seqs[0] as number }
    this.delete(key)
    return out
  }

  /**
   * The lowest keys, in order, whose sizes add up to `bytesNeeded`, skipping
   * those `evictable` refuses; the heap is left as it was (a plan, not an
   * eviction).
   */
  lowest (bytesNeeded: number, sizeOf: (key: string) => number, evictable: (key: string) => boolean): string[] {
    const out: string[] = []
    const popped: Array<{ key: string, priority: number, seq: number }> = []
    let freed = 0
    while (freed < bytesNeeded) {
      const top = this.pop()
      if (top == null) break
      popped.push(top)
      if (!evictable(top.key)) continue
      out.push(top.key)
      freed += sizeOf(top.key)
    }
    for (const { key, priority, seq } of popped) this.set(key, priority, seq)
    return out
  }

  private less (a: number, b: number): boolean {
    const pa = this.priorities[a] as number
    const pb = this.priorities[b] as number
    return pa < pb || (pa === pb && (this.seqs[a] as number) < (this.seqs[b] as number))
  }

  private up (at: number): number {
    while (at > 0) {
      const parent = (at - 1) >> 1
      if (!this.less(at, parent)) break
      this.swap(at, parent)
      at = parent
    }
    return at
  }

  private down (at: number): void {
    const n = this.keys.length
    for (;;) {
      const left = 2 * at + 1
      const right = left + 1
      let smallest = at
      if (left < n && this.less(left, smallest)) smallest = left
      if (right < n && this.less(right, smallest)) smallest = right
      if (smallest === at) return
      this.swap(at, smallest)
      at = smallest
    }
  }

  private swap (a: number, b: number): void {
    const ka = this.keys[a] as string
    const kb = this.keys[b] as string
    this.keys[a] = kb
    this.keys[b] = ka
    const p = this.priorities[a] as number
    this.priorities[a] = this.priorities[b] as number
    this.priorities[b] = p
    const s = this.seqs[a] as number
    this.seqs[a] = this.seqs[b] as number
    this.seqs[b] = s
    this.position.set(kb, a)
    this.position.set(ka, b)
  }
}
