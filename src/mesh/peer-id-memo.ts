import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'

/** Peers remembered by default: a node's connected peers, with room to spare. */
const DEFAULT_MAX_PEER_IDS = 1_024

/**
 * PeerIds by their string form. The provider index and gossip keep peers as
 * strings; decoding one back (base58, multihash, public key) cost tens of
 * microseconds twice on every forwarded inference request.
 */
export class PeerIdMemo {
  private readonly ids = new Map<string, PeerId>()
  private readonly max: number

  constructor (max = DEFAULT_MAX_PEER_IDS) {
    this.max = max
  }

  /** The PeerId of `text`; throws as peerIdFromString does on a malformed one (which is not remembered). */
  get (text: string): PeerId {
    const known = this.ids.get(text)
    if (known != null) return known
    const id = peerIdFromString(text)
    if (this.ids.size >= this.max) {
      const oldest = this.ids.keys().next().value
      if (oldest != null) this.ids.delete(oldest)
    }
    this.ids.set(text, id)
    return id
  }
}
