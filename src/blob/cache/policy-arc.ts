import { ByteList } from './byte-list.js'
import { DEFAULT_POLICY_CAPACITY } from './constants.js'
import type { CapacityInit, EvictionPolicy } from './policy.js'

/**
 * Adaptive Replacement Cache (Megiddo & Modha, FAST 2003) in a byte-capacity
 * form: T1 holds blobs seen once lately, T2 blobs seen at least twice, and
 * the ghosts B1, B2 remember what each recently evicted. A request for a
 * ghost of B1 means T1 was too small, so its target p grows (by the blob's
 * size, times |B2|/|B1| in bytes when B1 is the smaller); a ghost of B2
 * shrinks it. Counts of the paper become bytes: |T1| + |B1| ≤ c and
 * |T1| + |T2| + |B1| + |B2| ≤ 2c.
 */
export class ArcPolicy implements EvictionPolicy {
  readonly name = 'arc'
  readonly capacity: number
  private readonly t1 = new ByteList()
  private readonly t2 = new ByteList()
  private readonly b1 = new ByteList()
  private readonly b2 = new ByteList()
  private p = 0
  /** The ghost whose request already moved p (a miss is seen by hit() and then by add()). */
  private adapted?: string

  constructor (init: CapacityInit = {}) {
    this.capacity = Math.max(1, init.capacityBytes ?? DEFAULT_POLICY_CAPACITY)
  }

  get count (): number {
    return this.t1.entries.size + this.t2.entries.size
  }

  /** The target size of T1 in bytes. */
  get target (): number {
    return this.p
  }

  has (id: string): boolean {
    return this.t1.has(id) || this.t2.has(id)
  }

  add (id: string, size: number, hits = 1): void {
    this.adapt(id)
    this.adapted = undefined
    const ghost = (this.b1.delete(id) ?? this.b2.delete(id)) != null
    this.t1.delete(id)
    this.t2.delete(id)
    // A ghost hit, or a history restored after a restart, means seen twice.
    if (ghost || hits > 1) this.t2.push(id, size)
    else this.t1.push(id, size)
    this.trimGhosts()
  }

  hit (id: string): void {
    const size = this.t1.delete(id) ?? this.t2.entries.get(id)
    if (size != null) {
      this.t2.push(id, size)
      return
    }
    this.adapt(id)
  }

  remove (id: string): void {
    this.t1.delete(id)
    this.t2.delete(id)
  }

  evict (id: string): void {
    const once = this.t1.delete(id)
    if (once != null) this.b1.push(id, once)
    const twice = this.t2.delete(id)
    if (twice != null) this.b2.push(id, twice)
    this.trimGhosts()
  }

  victims (bytesNeeded: number, evictable: (id: string) => boolean = () => true): string[] {
    const out: string[] = []
    let freed = 0
    let t1Left = this.t1.bytes
    const first = this.t1.entries[Symbol.iterator]()
    const second = this.t2.entries[Symbol.iterator]()
    const next = (list: Iterator<[string, number]>): [string, number] | undefined => {
      for (let item = list.next(); item.done !== true; item = list.next()) {
        if (evictable(item.value[0])) return item.value
      }
      return undefined
    }
    let a = next(first)
    let b = next(second)
    while (freed < bytesNeeded && (a != null || b != null)) {
      // REPLACE: take from T1 while it is over its target (or T2 has nothing to give).
      if (a != null && (t1Left > this.p || b == null)) {
        out.push(a[0])
        freed += a[1]
        t1Left -= a[1]
        a = next(first)
      } else if (b != null) {
        out.push(b[0])
        freed += b[1]
        b = next(second)
      }
    }
    return out
  }

  private adapt (id: string): void {
    if (this.adapted === id) return
    const inB1 = this.b1.entries.get(id)
    const inB2 = this.b2.entries.get(id)
    if (inB1 != null) {
      this.p = Math.min(this.capacity, this.p + inB1 * Math.max(1, this.b2.bytes / Math.max(1, this.b1.bytes)))
      this.adapted = id
    } else if (inB2 != null) {
      this.p = Math.max(0, this.p - inB2 * Math.max(1, this.b1.bytes / Math.max(1, this.b2.bytes)))
      this.adapted = id
    }
  }

  private trimGhosts (): void {
    while (this.b1.entries.size > 0 && this.t1.bytes + this.b1.bytes > this.capacity) this.b1.shift()
    while (this.b2.entries.size > 0 && this.t1.bytes + this.t2.bytes + this.b1.bytes + this.b2.bytes > 2 * this.capacity) this.b2.shift()
  }
}
