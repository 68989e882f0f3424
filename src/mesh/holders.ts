import type { Connection, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { BlobId } from '../blob/blob-id.js'
import type { PeerScores } from './peer-scores.js'
import type { ProviderIndex } from './provider-index.js'

/** How long a ping may take when libp2p has not measured a connection's round trip yet. */
const PING_TIMEOUT_MS = 2_000

export interface MeshHoldersComponents {
  providers: Pick<ProviderIndex, 'providers' | 'load'>
  scores: Pick<PeerScores, 'believes'>
  /** libp2p's open connections to a peer: its connection monitor keeps their `rtt`. */
  connections: (peerId: PeerId) => Array<Pick<Connection, 'rtt'>>
  ping: (peerId: PeerId, options: { signal: AbortSignal }) => Promise<number>
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

  constructor (components: MeshHoldersComponents) {
    this.components = components
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
    const id = peerIdFromString(peerId)
    const measured = this.components.connections(id).map(c => c.rtt).filter((rtt): rtt is number => rtt != null)
    if (measured.length > 0) return Math.min(...measured)
    return this.components.ping(id, { signal: AbortSignal.any([options.signal, AbortSignal.timeout(PING_TIMEOUT_MS)]) })
  }
}
