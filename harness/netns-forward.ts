/**
 * Reaching a server inside a network namespace from this process, which runs
 * in the host's: a worker in the namespace listens on a Unix socket and pipes
 * to the server, and a TCP listener on this host's 127.0.0.1 pipes to that
 * socket. No interface or route of the host is touched, and the forwarded
 * traffic crosses neither the swarm's bridge nor its capped links.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { netnsCommand, NetnsError } from './netns.js'
import { pipeBoth } from './pipe-both.js'

const WORKER = fileURLToPath(new URL('./netns-forward-worker.js', import.meta.url))
const READY_MS = 15_000

export interface Forward {
  /** The target URL as this process reaches it: `http://127.0.0.1:PORT` with the target's path. */
  url: string
  close: () => Promise<void>
}

// Workers still running: one exit hook kills them all, so none outlives this process.
const workers = new Set<ChildProcess>()
let exitHookInstalled = false

function track (worker: ChildProcess): void {
  workers.add(worker)
  worker.once('exit', () => { workers.delete(worker) })
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const w of workers) {
      try { w.kill('SIGKILL') } catch {}
    }
  })
}

/** Forwards a local port to `target` (an http URL of an IPv4 address and port) as seen from inside `netns`. */
export async function forwardInto (netns: string, target: string, options: { signal?: AbortSignal } = {}): Promise<Forward> {
  const url = new URL(target)
  const port = Number(url.port)
  if (url.protocol !== 'http:' || !/^\d+\.\d+\.\d+\.\d+$/.test(url.hostname) || !Number.isInteger(port) || port < 1) {
    throw new NetnsError(`cannot forward to ${target}: an http URL with an IPv4 address and a port is needed`)
  }
  const dir = await mkdtemp(join(tmpdir(), 'herd-sw-fwd-'))
  const socketPath = join(dir, 's')
  const { command, args } = netnsCommand(netns, process.execPath, [WORKER, socketPath, url.hostname, String(port)])
  const worker = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  worker.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000) })
  track(worker)
  const kill = (): void => { try { worker.kill('SIGKILL') } catch {} }
  const sockets = new Set<Socket>()
  let server: Server | undefined
  const close = async (): Promise<void> => {
    for (const s of sockets) s.destroy()
    if (server != null) await new Promise<void>(resolve => { server!.close(() => { resolve() }) })
    worker.stdin.end()
    if (worker.exitCode == null && worker.signalCode == null) {
      const timer = setTimeout(kill, 2_000)
      await new Promise<void>(resolve => { worker.once('exit', () => { resolve() }) })
      clearTimeout(timer)
    }
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await new Promise<void>((resolve, reject) => {
      const signal = AbortSignal.any([AbortSignal.timeout(READY_MS), ...(options.signal != null ? [options.signal] : [])])
      const onAbort = (): void => { reject(new NetnsError(`the forwarder into ${netns} was not ready: ${String(signal.reason?.message ?? signal.reason)} ${stderr}`)) }
      signal.addEventListener('abort', onAbort, { once: true })
      createInterface({ input: worker.stdout }).once('line', () => { signal.removeEventListener('abort', onAbort); resolve() })
      worker.once('exit', code => { signal.removeEventListener('abort', onAbort); reject(new NetnsError(`the forwarder into ${netns} exited with ${String(code)}: ${stderr}`)) })
    })
    const listening = createServer(client => {
      const upstream = createConnection(socketPath)
      sockets.add(client)
      client.once('close', () => sockets.delete(client))
      pipeBoth(client, upstream)
    })
    server = listening
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject)
      listening.listen(0, '127.0.0.1', () => { resolve() })
    })
    const address = listening.address()
    if (address == null || typeof address === 'string') throw new NetnsError('the forwarder has no TCP address')
    return { url: `http://127.0.0.1:${address.port}${url.pathname === '/' ? '' : url.pathname}`, close }
  } catch (err) {
    await close()
    throw err
  }
}
