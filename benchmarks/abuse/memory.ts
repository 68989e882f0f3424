// Memory abuse: a node alone in a child process (so its RSS is the node's) is sent batch bombs over
// HTTP and /herd/infer and a request at the largest batch it allows; its RSS is read from /proc
// before, at the peak (VmHWM, reset before each request) and after each. Prints nothing: the abuse
// suite calls memoryAbuse and prints the rows.
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import ort from 'onnxruntime-node'
import { request } from 'undici'
import { asInferError } from '../../src/inference/infer-errors.js'
import { InferClient } from '../../src/inference/infer-protocol.js'
import { DEFAULT_MAX_RUN_BYTES, DEFAULT_RELEASE_IDLE_MS } from '../../src/inference/constants.js'
import { estimateRun } from '../../src/inference/run-limits.js'
import { createMeshLibp2p, type MeshLibp2p } from '../../src/mesh/libp2p.js'

/** The model: 16 features in, two hidden layers of 512, 8 out (1.1 MB). */
export const ABUSE_MLP = { inputSize: 16, hiddenSize: 512, outputSize: 8, layers: 3, seed: 13 }

export interface MemoryAbuseRow {
  abuse: string
  rssBeforeMB: number
  rssPeakMB: number
  rssAfterMB: number
  /** The HTTP status, or the /herd/infer reply's code ('OK' when it ran). */
  status: number | string
}

const NODE_SCRIPT = fileURLToPath(new URL('./memory-node.js', import.meta.url))
const READY_MS = 60_000
const REQUEST_MS = 60_000
/** Time for the allocator and the collectors to settle before an "after" reading, once a session a large run grew is closed. */
const SETTLE_MS = DEFAULT_RELEASE_IDLE_MS + 300

/** The most rows of ABUSE_MLP's input a node with the default limit runs: the "largest allowed" request. */
export function largestAllowedRows (): number {
  const profile = {
    inputs: [{ name: 'x', type: 'float32', shape: ['batch', ABUSE_MLP.inputSize] }],
    outputs: [{ name: 'y', type: 'float32', shape: ['batch', ABUSE_MLP.outputSize] }],
    dense: [
      { inputWidth: ABUSE_MLP.inputSize, outputWidth: ABUSE_MLP.hiddenSize },
      { inputWidth: ABUSE_MLP.hiddenSize, outputWidth: ABUSE_MLP.hiddenSize },
      { inputWidth: ABUSE_MLP.hiddenSize, outputWidth: ABUSE_MLP.outputSize }
    ]
  }
  const perRow = estimateRun({ x: input(1) }, profile).bytes
  return Math.floor(DEFAULT_MAX_RUN_BYTES / perRow)
}

function input (rows: number): ort.Tensor {
  const data = new Float32Array(rows * ABUSE_MLP.inputSize)
  for (let i = 0; i < data.length; i++) data[i] = (i % 89) / 89
  return new ort.Tensor('float32', data, [rows, ABUSE_MLP.inputSize])
}

function megabytes (bytes: number): number {
  return Math.round(bytes / 1e6)
}

/** VmRSS and VmHWM of a process, in bytes. */
async function rssOf (pid: number): Promise<{ rss: number, peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
  return { rss: kib('VmRSS'), peak: kib('VmHWM') }
}

interface NodeProcess {
  child: ChildProcess
  ready: { api: string, addrs: string[], peerId: string }
  collect: () => Promise<void>
  stop: () => Promise<void>
}

async function startNodeProcess (dir: string, signal: AbortSignal): Promise<NodeProcess> {
  const child = fork(NODE_SCRIPT, [dir], { execArgv: ['--expose-gc'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  const next = async <T>(key: string, ms: number): Promise<T> => new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error(`the abuse node sent no ${key} within ${ms} ms`)) }, ms)
    const onMessage = (message: Record<string, unknown>): void => { if (key in message) { cleanup(); resolve(message[key] as T) } }
    const onExit = (): void => { cleanup(); reject(new Error(`the abuse node exited before sending ${key}`)) }
    const cleanup = (): void => { clearTimeout(timer); child.off('message', onMessage); child.off('exit', onExit) }
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
  const kill = (): void => { if (child.exitCode == null) child.kill('SIGKILL') }
  signal.addEventListener('abort', kill, { once: true })
  try {
    const ready = await next<NodeProcess['ready']>('ready', READY_MS)
    return {
      child,
      ready,
      collect: async () => {
        const collected = next('collected', REQUEST_MS)
        child.send({ collect: true })
        await collected
      },
      stop: async () => {
        if (child.connected) child.send({ stop: true })
        const timer = setTimeout(kill, 15_000)
        await exited
        clearTimeout(timer)
        signal.removeEventListener('abort', kill)
      }
    }
  } catch (err) {
    kill()
    await exited
    throw err
  }
}

/**
 * Starts a node in a child process and sends it, one after another: batch bombs over HTTP at 10
 * and 50 MB of tensor data, one over /herd/infer, and a request of the largest batch the default
 * limit allows; RSS of the node before, at the peak and after each. Linux only (/proc). Quick: the
 * 50 MB bomb is left out (its 67 MB body takes most of the time).
 */
export async function memoryAbuse (options: { quick: boolean }): Promise<MemoryAbuseRow[]> {
  const signal = AbortSignal.timeout(options.quick ? 20_000 : 60_000)
  const dir = await mkdtemp(join(tmpdir(), 'herd-abuse-memory-'))
  let node: NodeProcess
  try {
    node = await startNodeProcess(dir, signal)
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
  const pid = node.child.pid as number
  let caller: MeshLibp2p | undefined
  let client: InferClient | undefined
  const rows: MemoryAbuseRow[] = []
  try {
    const started = caller = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: [], privateNetwork: true })
    const mesh = client = new InferClient({ dialProtocol: async (peer, protocol, dialOptions) => started.dialProtocol(peer, protocol, dialOptions) })
    await caller.start()
    await caller.dial(node.ready.addrs.map(a => multiaddr(a)), { signal })
    const peerId = peerIdFromString(node.ready.peerId)

    const overHttp = async (n: number): Promise<number> => {
      const body = JSON.stringify({ model: 'mlp', inputs: { x: { type: 'float32', dims: [n, ABUSE_MLP.inputSize], base64: Buffer.from((input(n).data as Float32Array).buffer).toString('base64') } }, binary: true })
      const response = await request(`${node.ready.api}/v1/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal, headersTimeout: REQUEST_MS, bodyTimeout: REQUEST_MS })
      await response.body.dump()
      return response.statusCode
    }
    const overMesh = async (n: number): Promise<string> => {
      try {
        await mesh.infer(peerId, { model: 'mlp', inputs: { x: input(n) } }, { signal })
        return 'OK'
      } catch (err) {
        const known = asInferError(err)
        if (known == null) throw err
        return known.code
      }
    }
    const settled = async (): Promise<number> => {
      await node.collect()
      await sleep(SETTLE_MS, undefined, { signal })
      return (await rssOf(pid)).rss
    }
    // The session loaded and warm, so "before" is a node that has already served.
    await overHttp(4)
    // Each request's "after" is the next one's "before": nothing runs in between.
    let before = await settled()
    const measure = async (abuse: string, send: () => Promise<number | string>): Promise<void> => {
      // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+), so the peak is this request's.
      await writeFile(`/proc/${pid}/clear_refs`, '5')
      const status = await send()
      const peak = await rssOf(pid)
      const after = await settled()
      rows.push({ abuse, rssBeforeMB: megabytes(before), rssPeakMB: megabytes(Math.max(peak.peak, peak.rss)), rssAfterMB: megabytes(after), status })
      before = after
    }

    await measure('batch bomb, HTTP, [156250, 16] (10 MB of float32)', async () => overHttp(156_250))
    if (!options.quick) await measure('batch bomb, HTTP, [781250, 16] (50 MB of float32)', async () => overHttp(781_250))
    await measure('batch bomb, /herd/infer, [156250, 16] (10 MB)', async () => overMesh(156_250))
    const largest = largestAllowedRows()
    await measure(`largest allowed batch, HTTP, [${largest}, 16] (${megabytes(largest * ABUSE_MLP.inputSize * 4)} MB)`, async () => overHttp(largest))
    return rows
  } finally {
    await client?.close()
    await caller?.stop()
    await node.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
