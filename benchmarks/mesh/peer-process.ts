// One end of the two-process mesh benchmark: a raw TCP, raw libp2p or herd node in its own process, driven by the parent over IPC.
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks'
import { createServer, connect, type Server } from 'node:net'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { startNode, waitFor, withTimeout } from '../../harness/in-process-mesh.js'
import type { BlobId } from '../../src/blob/blob-id.js'
import { DIGEST_INTERVAL_MS } from '../../src/mesh/constants.js'
import { createMeshLibp2p, type MeshLibp2p } from '../../src/mesh/libp2p.js'
import type { HerdNode } from '../../src/node.js'
import type { NodeConfigInput } from '../../src/node-config.js'
import { BENCH_PROTOCOL, pullBench, serveBench } from '../../harness/raw-stream.js'
import { serveParent } from '../child-ipc.js'

/** What the parent asks; each request carries an `id` that its answer repeats. */
export type PeerRequest =
  | { op: 'tcp:serve', bytes: number }
  | { op: 'tcp:pull', port: number, bytes: number }
  | { op: 'libp2p:start' }
  | { op: 'libp2p:pull', peerId: string, addrs: string[], bytes: number }
  | { op: 'herd:start', config: NodeConfigInput }
  | { op: 'herd:dial', addrs: string[] }
  | { op: 'herd:wait-holder', blobId: string, peerId: string }
  | { op: 'herd:fetch', blobId: string, size: number }
  | { op: 'herd:served' }
  | { op: 'cpu' }
  | { op: 'gc' }
  | { op: 'profile:start' }
  | { op: 'profile:stop', path: string }
  | { op: 'stop' }


/** Every send is one block of this size (the last may be shorter), as in the in-process benchmark. */
const BLOCK_BYTES = 256 * 1024
const MiB = 1024 * 1024
/** A transfer slower than 1 MiB/s (plus a minute of slack) counts as hung. */
const transferMs = (bytes: number): number => 60_000 + Math.ceil(bytes / MiB) * 1_000
const block = new Uint8Array(randomBytes(BLOCK_BYTES))

let tcpServer: Server | undefined
let libp2p: MeshLibp2p | undefined
let node: HerdNode | undefined
let profiler: Session | undefined
/** Garbage collections so far: how many, and the milliseconds they held the event loop (major: mark-compact). */
const gc = { count: 0, ms: 0, major: 0, majorMs: 0 }
new PerformanceObserver(list => {
  for (const entry of list.getEntries() as Array<PerformanceEntry & { detail?: { kind?: number } }>) {
    gc.count++
    gc.ms += entry.duration
    // NODE_PERFORMANCE_GC_MAJOR
    if (entry.detail?.kind === 4) { gc.major++; gc.majorMs += entry.duration }
  }
}).observe({ entryTypes: ['gc'] })

function need<T> (part: T | undefined, what: string): T {
  if (part == null) throw new Error(`${what} is not started in this process`)
  return part
}

async function timed (fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now()
  await fn()
  return (performance.now() - started) / 1000
}

async function serveTcp (bytes: number): Promise<number> {
  tcpServer?.close()
  const server = tcpServer = createServer(socket => {
    let left = bytes
    const pump = (): void => {
      while (left > 0) {
        const piece = left >= block.byteLength ? block : block.subarray(0, left)
        left -= piece.byteLength
        if (!socket.write(piece)) { socket.once('drain', pump); return }
      }
      socket.end()
    }
    socket.on('error', () => {})
    pump()
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address == null || typeof address === 'string') throw new Error('no TCP address')
  return address.port
}

async function pullTcp (port: number, bytes: number): Promise<number> {
  return withTimeout('raw TCP transfer', transferMs(bytes), async () => timed(async () => new Promise<void>((resolve, reject) => {
    let received = 0
    const client = connect(port, '127.0.0.1')
    client.on('data', (chunk: Buffer) => { received += chunk.byteLength })
    client.on('error', reject)
    client.on('end', () => {
      client.destroy()
      received === bytes ? resolve() : reject(new Error(`TCP: got ${received} of ${bytes} bytes`))
    })
  })))
}

async function handle (request: PeerRequest): Promise<unknown> {
  switch (request.op) {
    case 'tcp:serve':
      return serveTcp(request.bytes)
    case 'tcp:pull':
      return pullTcp(request.port, request.bytes)
    case 'libp2p:start': {
      const started = libp2p = await createMeshLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0'], privateNetwork: true, allow: ['/ip4/127.0.0.1'], privateKey: await generateKeyPair('Ed25519') })
      await started.start()
      await started.handle(BENCH_PROTOCOL, stream => { void serveBench(stream, block, transferMs(512 * MiB)) }, { maxInboundStreams: 8, maxOutboundStreams: 8 })
      return { peerId: started.peerId.toString(), addrs: started.getMultiaddrs().map(a => a.toString()) }
    }
    case 'libp2p:pull': {
      const self = need(libp2p, 'libp2p')
      await withTimeout('libp2p dial', 15_000, async signal => self.dial(request.addrs.map(a => multiaddr(a)), { signal }))
      return withTimeout('libp2p pull', transferMs(request.bytes), async signal => timed(async () => pullBench(self, peerIdFromString(request.peerId), request.bytes, signal)))
    }
    case 'herd:start': {
      const started = node = await startNode(request.config)
      return { peerId: started.peerId.toString(), addrs: started.libp2p.getMultiaddrs().map(a => a.toString()) }
    }
    case 'herd:dial': {
      const self = need(node, 'a herd node')
      await withTimeout('a dial between nodes', 15_000, async signal => self.libp2p.dial(request.addrs.map(a => multiaddr(a)), { signal }))
      return null
    }
    case 'herd:wait-holder': {
      const self = need(node, 'a herd node')
      // The holder announced the blob before B started: B learns of it from a digest, sent every DIGEST_INTERVAL_MS, which a loaded machine delays.
      await waitFor('the downloader to list the holder', () => self.providers.providers(request.blobId as BlobId).some(p => p.peerId === request.peerId && p.state === 'holder'), 2 * DIGEST_INTERVAL_MS + 15_000)
      return null
    }
    case 'herd:fetch': {
      const self = need(node, 'a herd node')
      const before = self.fetcher.counters.bytesFromPeers
      const seconds = await timed(async () => {
        const entry = await withTimeout('a blob fetch', transferMs(request.size), async signal => self.fetcher.fetch(request.blobId as BlobId, { signal }))
        if (entry.size !== request.size) throw new Error(`fetched ${entry.size} bytes, expected ${request.size}`)
      })
      return { seconds, bytesFromPeers: self.fetcher.counters.bytesFromPeers - before }
    }
    case 'herd:served':
      return need(node, 'a herd node').status().serve.bytesServed
    case 'cpu':
      return { ...process.cpuUsage(), minorFaults: process.resourceUsage().minorPageFault }
    case 'gc':
      return { ...gc }
    case 'profile:start': {
      // Started here rather than with --cpu-prof, so a profile holds the measured transfer and not the setup before it.
      const session = profiler = new Session()
      session.connect()
      await session.post('Profiler.enable')
      await session.post('Profiler.start')
      return null
    }
    case 'profile:stop': {
      const session = need(profiler, 'a profiler')
      const { profile } = await session.post('Profiler.stop')
      session.disconnect()
      profiler = undefined
      await writeFile(request.path, JSON.stringify(profile))
      return null
    }
    case 'stop':
      tcpServer?.close()
      await Promise.allSettled([libp2p?.stop(), node?.stop()])
      return null
  }
}

serveParent<PeerRequest>(handle)
