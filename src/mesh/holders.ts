import type { Connection, PeerId } from '@libp2p/interface'
import { raceSignal } from 'race-signal'
import type { BlobId } from '../blob/blob-id.js'
import { PeerIdMemo } from './peer-id-memo.js'
import type { PeerScores } from './peer-scores.js'
import type { ProviderIndex } from './provider-index.js'

/** How long a ping may take when libp2p has not measured a connection's round trip yet. */
const PING_TIMEOUT_MS = 2_000
/**
 * How long a ping's round trip stands in for libp2p's measure. The connection
 * monitor's first measure comes up to its interval (10 s) after a connection
 * opens; pinging on every request until then cost a new stream each time.
 */
const PINGED_RTT_TTL_MS = 30_000
/** Pinged round trips remembered at most: one per connected holder is the use. */
const MAX_PINGED_RTTS = 1_024

export interface MeshHoldersComponents {
  providers: Pick<ProviderIndex, 'providers' | 'load'>
  scores: Pick<PeerScores, 'believes'>
  /** libp2p's open connections to a peer: its connection monitor keeps their `rtt`. */
  connections: (peerId: PeerId) => Array<Pick<Connection, 'rtt'>>
  ping: (peerId: PeerId, options: { signal: AbortSignal }) => Promise<number>
  /** Shared with whoever else turns these peers' strings back into PeerIds. */
  peerIds?: PeerIdMemo
}

export interface Holder {
  peerId: string
  /** Inference requests queued or running there, as it last gossiped. */
  queue: number
  /** It gossiped a loaded session of the blob: a forwarded request skips the load. */
  warm: boolean
}

/** The mesh as inference sees it: who holds a blob, how busy and how far away they are. */
export class MeshHolders {
  private readonly components: MeshHoldersComponents
  private readonly pinged = new Map<string, { rtt: Promise<number>, at: number }>()
  private readonly peerIds: PeerIdMemo

  constructor (components: MeshHoldersComponents) {
    this.components = components
    this.peerIds = components.peerIds ?? new PeerIdMemo()
  }

  /** Believed peers that hold the blob complete, with their gossiped load. */
  holders (blobId: BlobId): Holder[] {
    const { providers, scores } = this.components
    return providers.providers(blobId)
      .filter(p => p.state === 'holder' && scores.believes(p.peerId))
      .map(p => {
        const load = providers.load(p.peerId)
        return { peerId: p.peerId, queue: load?.inferQueue ?? 0, warm: load?.warm.includes(blobId) ?? false }
      })
  }

  /** The round trip libp2p measured on the connection to a peer; a ping only before it has. */
  async rttMs (peerId: string, options: { signal: AbortSignal }): Promise<number> {
    const id = this.peerIds.get(peerId)
    const measured = this.components.connections(id).map(c => c.rtt).filter((rtt): rtt is number => rtt != null)
    if (measured.length > 0) return Math.min(...measured)
    const now = Date.now()
    const known = this.pinged.get(peerId)
    if (known != null && now - known.at < PINGED_RTT_TTL_MS) return known.rtt
    // One ping per peer at a time: concurrent requests share it. It is not tied to one caller's signal, only to its own timeout.
    const rtt = this.components.ping(id, { signal: AbortSignal.timeout(PING_TIMEOUT_MS) })
    this.remember(peerId, { rtt, at: now })
    rtt.catch(() => { if (this.pinged.get(peerId)?.rtt === rtt) this.pinged.delete(peerId) })
    return raceSignal(rtt, options.signal)
  }

  private remember (peerId: string, entry: { rtt: Promise<number>, at: number }): void {
    this.pinged.delete(peerId)
    if (this.pinged.size >= MAX_PINGED_RTTS) {
      const oldest = this.pinged.keys().next().value
      if (oldest != null) this.pinged.delete(oldest)
    }
    this.pinged.set(peerId, entry)
  }
}
