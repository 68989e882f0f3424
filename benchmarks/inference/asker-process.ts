// One asker of the inference benchmark's load, in a process of its own as a node would be: a libp2p node (herd's transport) with an InferClient, driven by the parent over IPC.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { seededTensor } from '../../harness/seeded-tensor.js'
import { Deadline } from '../../src/deadline.js'
import { asInferError } from '../../src/inference/infer-errors.js'
import { InferClient } from '../../src/inference/infer-protocol.js'
import { createMeshLibp2p, type MeshLibp2p } from '../../src/mesh/libp2p.js'
import { serveParent } from '../child-ipc.js'

/** What the parent asks; each request carries an `id` that its answer repeats. */
export type AskerRequest =
  | { op: 'start' }
  | { op: 'dial', addrs: string[] }
  | { op: 'load', peerId: string, model: string, input: { name: string, dims: number[], seed: number }, inflight: number, seconds: number, timeoutMs: number }
  | { op: 'stop' }


/** One load run as the asker saw it: each OK and BUSY answer's time (ms), and the CPU this process spent on it. */
export interface AskerLoad {
  ok: number[]
  busy: number[]
  errors: number
  firstError?: string
  seconds: number
  cpuSeconds: number
}

/** Per loop of a load run, whatever `seconds` says. */
const MAX_REQUESTS_PER_LOOP = 1_000_000

let libp2p: MeshLibp2p | undefined

function need (): MeshLibp2p {
  if (libp2p == null) throw new Error('the asker is not started')
  return libp2p
}

async function load (request: Extract<AskerRequest, { op: 'load' }>): Promise<AskerLoad> {
  const node = need()
  const peer = peerIdFromString(request.peerId)
  const inputs = { [request.input.name]: seededTensor(request.input.dims, request.input.seed) }
  const client = new InferClient({ dialProtocol: async (p, protocol, options) => node.dialProtocol(p, protocol, options) })
  const ok: number[] = []
  const busy: number[] = []
  let errors = 0
  let firstError: string | undefined
  const cpu = process.cpuUsage()
  const started = performance.now()
  const end = started + request.seconds * 1000
  try {
    await Promise.all(Array.from({ length: request.inflight }, async () => {
      for (let i = 0; i < MAX_REQUESTS_PER_LOOP && performance.now() < end; i++) {
        const t = performance.now()
        // A Deadline, as a node's forwarding bounds each request (inference-service.ts): AbortSignal.timeout per request was ~5% of this process's busy time in a profile.
        const deadline = new Deadline(request.timeoutMs)
        try {
          const reply = await client.infer(peer, { model: request.model, inputs }, { signal: deadline.signal })
          if (reply.node !== request.peerId) throw new Error(`run by ${reply.node}, not the holder`)
          ok.push(performance.now() - t)
        } catch (err) {
          if (asInferError(err)?.code === 'BUSY') {
            busy.push(performance.now() - t)
            continue
          }
          errors++
          firstError ??= `${(err as Error).name}: ${(err as Error).message}`
          // An error answered at once must not spin: one millisecond between them.
          await new Promise(resolve => setTimeout(resolve, 1))
        } finally {
          deadline.clear()
        }
      }
    }))
  } finally {
    // Its kept streams count against the holder's 8 inference streams per connection.
    await client.close()
  }
  const seconds = (performance.now() - started) / 1000
  const used = process.cpuUsage(cpu)
  return { ok, busy, errors, ...(firstError != null ? { firstError } : {}), seconds, cpuSeconds: (used.user + used.system) / 1e6 }
}

async function handle (request: AskerRequest): Promise<unknown> {
  switch (request.op) {
    case 'start': {
      const node = libp2p = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], privateNetwork: true, allow: ['/ip4/127.0.0.1'] })
      await node.start()
      return node.peerId.toString()
    }
    case 'dial':
      await need().dial(request.addrs.map(a => multiaddr(a)), { signal: AbortSignal.timeout(30_000) })
      return null
    case 'load':
      return load(request)
    case 'stop':
      await libp2p?.stop()
      return null
  }
}

serveParent<AskerRequest>(handle)
