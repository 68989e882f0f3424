/**
 * The byte counters of a swarm's links over time, and the CPU of one process
 * beside them: what tells apart a full link, an idle one and a starved
 * process while a pull runs. All links are read at once from the hub
 * namespace (`ip -s -j link show`, one command a sample), where every
 * endpoint's veth has its other end: that end's transmit counter is what the
 * endpoint received (past its downlink's tbf), its receive counter what the
 * endpoint sent (past its uplink's).
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { sampleEvery } from './sample-every.js'

const run = promisify(execFile)

/** Linux's USER_HZ: /proc counts CPU time in these ticks. */
const TICKS_PER_SECOND = 100
/** One `ip` command may take this long on a starved machine before the sample is skipped. */
const COMMAND_TIMEOUT_MS = 5_000

export interface LinkSample {
  /** When, in ms of `performance.now()`. */
  at: number
  /** Bytes each port's endpoint has received so far, in the order the ports were given. */
  received: number[]
  /** Bytes each port's endpoint has sent so far. */
  sent: number[]
  /** CPU seconds each watched group of processes has used so far, in the order the groups were given. */
  cpuSeconds: number[]
}

interface IpLink { ifname?: string, stats64?: { rx?: { bytes?: number }, tx?: { bytes?: number } } }

/** User + system CPU seconds of a process so far; 0 if it is gone. */
export async function cpuSecondsOf (pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / TICKS_PER_SECOND
}

/**
 * The machine's busy and total CPU time so far, in ticks of /proc/stat's
 * first line (all cores); throws where that line cannot be read as one.
 * Guest time is left out: the kernel counts it in user time already.
 */
export async function machineTicks (): Promise<{ busy: number, total: number }> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0] ?? ''
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number)
  if (fields.length < 8 || fields.some(x => !Number.isFinite(x))) throw new Error(`/proc/stat does not begin with the CPU's ticks: ${line.slice(0, 100)}`)
  // cpu user nice system idle iowait irq softirq steal: idle and iowait are the idle part.
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields as [number, number, number, number, number, number, number, number]
  const busy = user + nice + system + irq + softirq + steal
  return { busy, total: busy + idle + iowait }
}

async function sample (hub: string, ports: readonly string[], cpuGroups: ReadonlyArray<readonly number[]>, signal: AbortSignal): Promise<LinkSample | undefined> {
  const at = performance.now()
  let links: IpLink[]
  try {
    const { stdout } = await run('ip', ['-n', hub, '-s', '-j', 'link', 'show'], { timeout: COMMAND_TIMEOUT_MS, signal, maxBuffer: 4 * 1024 * 1024 })
    links = JSON.parse(stdout) as IpLink[]
  } catch {
    return undefined
  }
  const byName = new Map(links.map(l => [l.ifname, l.stats64]))
  return {
    at,
    received: ports.map(p => Number(byName.get(p)?.tx?.bytes ?? 0)),
    sent: ports.map(p => Number(byName.get(p)?.rx?.bytes ?? 0)),
    cpuSeconds: await Promise.all(cpuGroups.map(async pids => (await Promise.all(pids.map(cpuSecondsOf))).reduce((a, b) => a + b, 0)))
  }
}

/**
 * Samples the ports' counters (and the CPU of each group of processes in
 * `cpuGroups`) every `periodMs` until the signal aborts, then resolves with
 * the samples. A sample the machine was too busy to take in time is skipped,
 * not waited for.
 */
export async function sampleLinks (hub: string, ports: readonly string[], options: { periodMs: number, cpuGroups?: ReadonlyArray<readonly number[]>, signal: AbortSignal }): Promise<LinkSample[]> {
  return await sampleEvery(options.periodMs, options.signal, async () => await sample(hub, ports, options.cpuGroups ?? [], options.signal))
}

export interface LinkUse {
  /** Seconds covered. */
  seconds: number
  /** Bytes over the time covered, by port. */
  received: number[]
  sent: number[]
  /** CPU seconds of each watched group over it. */
  cpuSeconds: number[]
}

/** What the counters moved between the last sample at or before `from` and the first at or after `to` (ms of performance.now()). */
export function linkUse (samples: readonly LinkSample[], from: number, to: number): LinkUse | undefined {
  const first = samples.findLast(s => s.at <= from) ?? samples[0]
  const last = samples.find(s => s.at >= to) ?? samples[samples.length - 1]
  if (first == null || last == null || last.at <= first.at) return undefined
  return {
    seconds: (last.at - first.at) / 1000,
    received: last.received.map((b, i) => b - (first.received[i] ?? 0)),
    sent: last.sent.map((b, i) => b - (first.sent[i] ?? 0)),
    cpuSeconds: last.cpuSeconds.map((c, i) => c - (first.cpuSeconds[i] ?? 0))
  }
}
