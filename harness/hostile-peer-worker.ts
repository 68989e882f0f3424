// The hostile peer's own thread: its libp2p, its encryption and its sending stay off the target node's event loop.
import { parentPort, workerData } from 'node:worker_threads'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { createMeshLibp2p } from '../src/mesh/libp2p.js'
import { abuse, hostileConnection, hostileStream, type ConnectionAbuse, type HostileOutcome } from './hostile-stream.js'
import type { HostileJob, HostileReply } from './hostile-peer.js'
import { identifyAnswer } from './identify-answer.js'

const port = parentPort
if (port == null) throw new Error('hostile-peer-worker runs as a worker thread')
const { target, addrs } = workerData as { target: string, addrs: string[] }
const libp2p = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: [], privateNetwork: true })
await libp2p.start()
await libp2p.dial(addrs.map(addr => multiaddr(addr)), { signal: AbortSignal.timeout(15_000) })
const peer = peerIdFromString(target)

async function run (job: HostileJob): Promise<HostileOutcome[]> {
  if (!('protocol' in job)) return [await connectionAbuse(job.kind, job.waitMs)]
  const { streams, writer } = abuse(job.kind, job.protocol)
  return Promise.all(Array.from({ length: job.streams ?? streams }, async () => hostileStream(libp2p, peer, job.protocol, writer, job.waitMs)))
}

async function connectionAbuse (kind: ConnectionAbuse, waitMs: number): Promise<HostileOutcome> {
  if (kind === 'before-encryption') {
    const tcp = multiaddr(addrs[0] as string).getComponents()
    const host = tcp.find(c => c.name === 'ip4' || c.name === 'ip6')?.value
    const tcpPort = tcp.find(c => c.name === 'tcp')?.value
    if (host == null || tcpPort == null) throw new Error(`the node's first address ${addrs[0]} is not TCP`)
    return hostileConnection(host, Number(tcpPort), waitMs)
  }
  return identifyAnswer(addrs, waitMs)
}

port.on('message', (job: HostileJob | 'stop') => {
  if (job === 'stop') {
    void Promise.resolve(libp2p.stop()).finally(() => { port.close() })
    return
  }
  void run(job).then(
    (outcomes: HostileOutcome[]) => { port.postMessage({ id: job.id, outcomes } satisfies HostileReply) },
    (err: Error) => { port.postMessage({ id: job.id, error: `${err.name}: ${err.message}` } satisfies HostileReply) }
  )
})
port.postMessage({ ready: libp2p.peerId.toString() })
