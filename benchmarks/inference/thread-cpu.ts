// CPU time of this process's threads by kind, read from /proc (Linux only): how much of a holder's CPU is its event loop, its inference threads, V8's helper threads and libuv's pool.
import { readdirSync, readFileSync } from 'node:fs'

/**
 * `eventLoop`: the main thread. `workers`: worker_threads (herd's inference
 * threads). `v8`: V8's platform threads (garbage collection, compilation).
 * `libuv`: libuv's pool (file system, level's writes, crypto jobs).
 */
export type ThreadKind = 'eventLoop' | 'workers' | 'v8' | 'libuv' | 'other'
export const THREAD_KINDS: readonly ThreadKind[] = ['eventLoop', 'workers', 'v8', 'libuv', 'other']

/** Node 24's thread names, as /proc shows them. */
const KIND_OF_NAME: Readonly<Record<string, ThreadKind>> = { MainThread: 'eventLoop', WorkerThread: 'workers', V8Worker: 'v8', 'libuv-worker': 'libuv' }
/** /proc counts thread times in USER_HZ ticks, which Linux fixes at 100 a second. */
const MS_PER_TICK = 10

export type ThreadTicks = Map<string, { kind: ThreadKind, ticks: number }>

/** Every thread's user + system ticks by thread ID; undefined where /proc/self/task cannot be read. */
export function threadTicks (): ThreadTicks | undefined {
  let ids: string[]
  try {
    ids = readdirSync('/proc/self/task')
  } catch {
    return undefined
  }
  const ticks: ThreadTicks = new Map()
  for (const id of ids) {
    let stat: string
    try {
      stat = readFileSync(`/proc/self/task/${id}/stat`, 'utf8')
    } catch {
      // The thread ended between the listing and the read.
      continue
    }
    // The name is in parentheses and may hold spaces or parentheses itself: the fields follow the last ')'.
    const nameEnd = stat.lastIndexOf(')')
    const name = stat.slice(stat.indexOf('(') + 1, nameEnd)
    const fields = stat.slice(nameEnd + 2).split(' ')
    // utime and stime are fields 14 and 15 of proc_pid_stat(5): the 12th and 13th after the name.
    const used = Number(fields[11]) + Number(fields[12])
    if (Number.isFinite(used)) ticks.set(id, { kind: KIND_OF_NAME[name] ?? 'other', ticks: used })
  }
  return ticks
}

/** CPU ms by thread kind since `before` (threadTicks); a thread that ended meanwhile is not counted. Undefined without /proc. */
export function threadCpuMsSince (before: ThreadTicks | undefined): Record<ThreadKind, number> | undefined {
  const after = threadTicks()
  if (before == null || after == null) return undefined
  const ms: Record<ThreadKind, number> = { eventLoop: 0, workers: 0, v8: 0, libuv: 0, other: 0 }
  for (const [id, thread] of after) ms[thread.kind] += Math.max(0, thread.ticks - (before.get(id)?.ticks ?? 0)) * MS_PER_TICK
  return ms
}
