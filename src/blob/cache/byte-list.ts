/** A Map used as an LRU list with a running byte total: oldest first. The lists of ARC and W-TinyLFU. */
export class ByteList {
  readonly entries = new Map<string, number>()
  bytes = 0

  get size (): number {
    return this.entries.size
  }

  has (id: string): boolean {
    return this.entries.has(id)
  }

  /** Appends `id` as the most recent entry (moving it if present). */
  push (id: string, size: number): void {
    this.delete(id)
    this.entries.set(id, size)
    this.bytes += size
  }

  delete (id: string): number | undefined {
    const size = this.entries.get(id)
    if (size == null) return undefined
    this.entries.delete(id)
    this.bytes -= size
    return size
  }

  /** The least recent entry. */
  first (): [string, number] | undefined {
    const item = this.entries.entries().next()
    return item.done === true ? undefined : item.value
  }

  /** Drops the least recent entry. */
  shift (): void {
    const first = this.first()
    if (first != null) this.delete(first[0])
  }
}
