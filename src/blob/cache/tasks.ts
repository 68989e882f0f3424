/**
 * Runs async work one job at a time per key. File and index changes for one
 * blob go through its key, so an eviction's unlink cannot land after a new
 * download of the same blob has created its file.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>()

  run<T> (key: string, job: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(job)
    const tail = result.then(() => {}, () => {})
    this.tails.set(key, tail)
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key)
    })
    return result
  }

  /** Resolves when no job is queued or running, including jobs queued while waiting. */
  async idle (): Promise<void> {
    while (this.tails.size > 0) await Promise.all(this.tails.values())
  }
}

/** Promises started by sync calls (such as a handle's release) that stop() must still wait for. */
export class TaskSet {
  private readonly pending = new Set<Promise<unknown>>()

  track<T> (promise: Promise<T>): Promise<T> {
    const settled = promise.then(() => {}, () => {})
    this.pending.add(settled)
    void settled.then(() => this.pending.delete(settled))
    return promise
  }

  async idle (): Promise<void> {
    while (this.pending.size > 0) await Promise.all(this.pending)
  }
}
