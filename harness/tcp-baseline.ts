/**
 * What plain TCP gets through a swarm's capped links, the yardstick for
 * herd's pull over the same links: every endpoint sends bulk TCP to every
 * other at once (the exchange of a cold swarm, without herd), and each
 * one's received bytes over a timed window are its share of its cap. On a
 * drop-tail `tbf` every link carries data one way and acknowledgements the
 * other behind it, so even plain TCP leaves some links short of their cap,
 * and how short depends on the congestion control.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { netnsCommand, NetnsError, type Endpoint } from './netns.js'

const WORKER = fileURLToPath(new URL('./tcp-baseline-worker.js', import.meta.url))
const PORT = 9_400
const READY_MS = 15_000
/** The workers start together this long after the last is ready: time to hand each its start. */
const START_DELAY_MS = 300
/** The worker's warm-up before its window (tcp-baseline-worker.ts). */
const WARM_UP_MS = 1_000
const RESULT_GRACE_MS = 10_000

export interface TcpBaseline {
  /** Per endpoint, in the order given: bytes received a second over its cap. */
  shares: number[]
  seconds: number
}

interface Worker {
  child: ChildProcess
  lines: AsyncIterator<string>
  stderr: () => string
}

function startWorker (endpoint: Endpoint, peers: Endpoint[], seconds: number): Worker {
  const { command, args } = netnsCommand(endpoint.netns, process.execPath, [WORKER, endpoint.address, String(PORT), String(seconds), ...peers.map(p => p.address)])
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000) })
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  return { child, lines, stderr: () => stderr }
}

async function nextLine (worker: Worker, what: string, ms: number, signal?: AbortSignal): Promise<string> {
  const timeout = AbortSignal.any([AbortSignal.timeout(ms), ...(signal != null ? [signal] : [])])
  const aborted = new Promise<never>((_resolve, reject) => {
    timeout.addEventListener('abort', () => { reject(new NetnsError(`the TCP baseline's worker gave no ${what} within ${ms} ms: ${worker.stderr()}`)) }, { once: true })
  })
  const line = await Promise.race([worker.lines.next(), aborted])
  if (line.done === true) throw new NetnsError(`the TCP baseline's worker ended before its ${what}: ${worker.stderr()}`)
  return line.value
}

/**
 * Runs the all-to-all for `seconds` (after a second of warm-up) between the
 * endpoints, which must have caps, and returns each one's received share.
 * Every worker is killed before it returns or throws.
 */
export async function tcpAllToAll (endpoints: Endpoint[], options: { seconds: number, signal?: AbortSignal }): Promise<TcpBaseline> {
  const { seconds, signal } = options
  if (endpoints.length < 2) throw new NetnsError('the TCP baseline needs two endpoints or more')
  if (endpoints.some(e => e.capBytesPerSec <= 0)) throw new NetnsError('the TCP baseline measures shares of a cap: every endpoint needs one')
  if (!(seconds > 0 && seconds <= 600)) throw new NetnsError(`the TCP baseline runs for (0, 600] seconds, not ${seconds}`)
  const workers = endpoints.map(e => startWorker(e, endpoints.filter(o => o !== e), seconds))
  try {
    for (const worker of workers) {
      const line = await nextLine(worker, 'ready line', READY_MS, signal)
      if (line !== 'ready') throw new NetnsError(`the TCP baseline's worker said ${JSON.stringify(line.slice(0, 100))}, not ready`)
    }
    const at = Date.now() + START_DELAY_MS
    for (const worker of workers) worker.child.stdin?.write(`go ${at}\n`)
    const resultMs = START_DELAY_MS + WARM_UP_MS + seconds * 1000 + RESULT_GRACE_MS
    const shares = await Promise.all(workers.map(async (worker, i) => {
      const line = await nextLine(worker, 'result', resultMs, signal)
      const result = JSON.parse(line) as { bytes?: unknown, ms?: unknown }
      if (typeof result.bytes !== 'number' || typeof result.ms !== 'number' || result.ms <= 0) throw new NetnsError(`the TCP baseline's worker gave ${line.slice(0, 100)}`)
      return result.bytes / (result.ms / 1000) / (endpoints[i] as Endpoint).capBytesPerSec
    }))
    return { shares, seconds }
  } finally {
    await Promise.all(workers.map(async ({ child }) => {
      child.stdin?.end()
      if (child.exitCode != null || child.signalCode != null) return
      const exited = new Promise(resolve => { child.once('exit', resolve) })
      try { child.kill('SIGKILL') } catch {}
      await exited
    }))
  }
}
