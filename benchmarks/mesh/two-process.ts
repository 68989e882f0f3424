// Transfers between two node processes on loopback, each end on its own event loop: raw TCP, one raw libp2p stream, a herd peer fetch, and the CPU both ends spend on each.
import { join } from 'node:path'
import { devnetNodeConfig, type Devnet } from '../../harness/in-process-mesh.js'
import type { BlobId } from '../../src/blob/blob-id.js'
import { note } from '../measure.js'
import type { PeerRequest } from './peer-process.js'
import { ChildClient } from '../child-ipc.js'

const PEER_SCRIPT = new URL('./peer-process.js', import.meta.url)
const GiB = 1024 * 1024 * 1024
/** Any one request: a transfer of up to 512 MiB at 1 MiB/s, or a node's start. */
const REQUEST_MS = 15 * 60_000

/** What one end spent over a transfer. */
export interface EndFigures {
  name: string
  userSeconds: number
  systemSeconds: number
  /** Garbage collections and the milliseconds they took (major: mark-compact). */
  gcs: number
  gcMs: number
  majorGcs: number
  /** Minor page faults: fresh memory the process touched (the kernel zeroes each page), a cost that churned buffers add. */
  minorFaults: number
}

export interface TransferFigures {
  seconds: number
  /** User + system CPU of both processes over the transfer. */
  cpuSeconds: number
  cpuSecondsPerGiB: number
  ends: EndFigures[]
}

interface GcCounts { count: number, ms: number, major: number, majorMs: number }

export interface TwoProcessFigures {
  tcp: TransferFigures
  libp2p: TransferFigures
  /** B's second fetch from A, of another blob of the same size, straight after the first: as the raw stream's measured pull follows its warm-up. */
  peerFetch: TransferFigures & { walrusBytes: number }
  /** B's first fetch from A, begun on processes idle since the set-up, running herd's transfer code for the first time. */
  peerFetchCold: TransferFigures & { walrusBytes: number }
}

class PeerProcess {
  private readonly child: ChildClient<PeerRequest>
  readonly name: string

  constructor (name: string) {
    this.name = name
    this.child = new ChildClient(PEER_SCRIPT, `peer process ${name}`, REQUEST_MS)
  }

  async ask<T> (request: PeerRequest): Promise<T> {
    return this.child.ask<T>(request)
  }

  /** CPU used so far, and garbage collections. */
  async usage (): Promise<{ cpu: NodeJS.CpuUsage & { minorFaults: number }, gc: GcCounts }> {
    const [cpu, gc] = await Promise.all([this.ask<NodeJS.CpuUsage & { minorFaults: number }>({ op: 'cpu' }), this.ask<GcCounts>({ op: 'gc' })])
    return { cpu, gc }
  }

  async stop (): Promise<void> {
    await this.child.stop()
  }
}

/** Times `transfer` and the CPU both processes spend meanwhile; with `profileDir`, both are profiled over it too. */
async function measure (pair: [PeerProcess, PeerProcess], bytes: number, label: string, profileDir: string | undefined, transfer: () => Promise<number>): Promise<TransferFigures> {
  if (profileDir != null) await Promise.all(pair.map(async p => p.ask({ op: 'profile:start' })))
  const before = await Promise.all(pair.map(async p => p.usage()))
  const seconds = await transfer()
  const after = await Promise.all(pair.map(async p => p.usage()))
  if (profileDir != null) await Promise.all(pair.map(async p => p.ask({ op: 'profile:stop', path: join(profileDir, `${label}-${p.name}.cpuprofile`) })))
  const ends = pair.map((p, i): EndFigures => {
    const b = before[i] as typeof after[number]
    const a = after[i] as typeof after[number]
    return {
      name: p.name,
      userSeconds: (a.cpu.user - b.cpu.user) / 1e6,
      systemSeconds: (a.cpu.system - b.cpu.system) / 1e6,
      gcs: a.gc.count - b.gc.count,
      gcMs: a.gc.ms - b.gc.ms,
      majorGcs: a.gc.major - b.gc.major,
      minorFaults: a.cpu.minorFaults - b.cpu.minorFaults
    }
  })
  const cpuSeconds = ends.reduce((sum, e) => sum + e.userSeconds + e.systemSeconds, 0)
  return { seconds, cpuSeconds, cpuSecondsPerGiB: cpuSeconds / (bytes / GiB), ends }
}

/**
 * Two child processes, the sender first: raw TCP, then one raw libp2p stream (after a pull of
 * the same size), then herd node A fetches `blobIds` from Walrus (not measured) and node B fetches
 * each from A, the first cold and the second warm. Fresh processes for herd, so their profiles
 * and heaps hold nothing of the baselines.
 */
export async function twoProcessTransfers (options: { devnet: Devnet, dir: string, blobIds: [BlobId, BlobId], size: number, profileDir?: string }): Promise<TwoProcessFigures> {
  const { devnet, dir, blobIds, size, profileDir } = options
  let pair: [PeerProcess, PeerProcess] = [new PeerProcess('sender'), new PeerProcess('receiver')]
  try {
    const [sender, receiver] = pair
    note(`two processes: raw TCP, ${size} bytes`)
    const port = await sender.ask<number>({ op: 'tcp:serve', bytes: size })
    const tcp = await measure(pair, size, 'tcp', profileDir, async () => receiver.ask<number>({ op: 'tcp:pull', port, bytes: size }))
    note('two processes: one raw libp2p stream')
    const [from] = await Promise.all([sender.ask<{ peerId: string, addrs: string[] }>({ op: 'libp2p:start' }), receiver.ask({ op: 'libp2p:start' })])
    // Warmed by a pull of the same size, as herd's measured fetch follows one of the same size.
    await receiver.ask({ op: 'libp2p:pull', ...from, bytes: size })
    const libp2p = await measure(pair, size, 'libp2p', profileDir, async () => receiver.ask<number>({ op: 'libp2p:pull', ...from, bytes: size }))
    await Promise.all(pair.map(async p => p.stop()))

    pair = [new PeerProcess('holder'), new PeerProcess('fetcher')]
    const [holder, fetcher] = pair
    note('two processes: herd node A fetches from Walrus, B from A')
    const a = await holder.ask<{ peerId: string, addrs: string[] }>({ op: 'herd:start', config: devnetNodeConfig(join(dir, 'two-a'), devnet) })
    for (const blobId of blobIds) await holder.ask({ op: 'herd:fetch', blobId, size })
    await fetcher.ask({ op: 'herd:start', config: devnetNodeConfig(join(dir, 'two-b'), devnet) })
    await fetcher.ask({ op: 'herd:dial', addrs: a.addrs })
    for (const blobId of blobIds) await fetcher.ask({ op: 'herd:wait-holder', blobId, peerId: a.peerId })
    const peerFetch = async (blobId: BlobId, label: string): Promise<TransferFigures & { walrusBytes: number }> => {
      const walrusBefore = devnet.walrus.stats.bytesServed
      let fromPeers = 0
      const fetch = await measure(pair, size, label, profileDir, async () => {
        const result = await fetcher.ask<{ seconds: number, bytesFromPeers: number }>({ op: 'herd:fetch', blobId, size })
        fromPeers = result.bytesFromPeers
        return result.seconds
      })
      const walrusBytes = devnet.walrus.stats.bytesServed - walrusBefore
      if (fromPeers !== size) note(`B took ${fromPeers} of ${size} bytes from A (Walrus served ${walrusBytes})`)
      return { ...fetch, walrusBytes }
    }
    const peerFetchCold = await peerFetch(blobIds[0], 'herd-cold')
    return { tcp, libp2p, peerFetch: await peerFetch(blobIds[1], 'herd'), peerFetchCold }
  } finally {
    await Promise.all(pair.map(async p => p.stop()))
  }
}
