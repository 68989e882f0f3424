import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'
import { logger } from '@libp2p/logger'

const log = logger('herd:mesh:yamux')

/** The parts of a yamux stream this change reads: its state and receive window (private in TypeScript, plain fields at run time). */
interface WindowedStream {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
  sendWindowUpdate: () => void
}

let installed = false

/**
 * Yamux (`@chainsafe/libp2p-yamux` 8) sends a window update after every data
 * frame it receives, however little of the window the frame used: every
 * inference request and reply cost the peer a second frame, encrypted and
 * written on its own (8 socket writes per forwarded request, 4 after this).
 * Go's yamux, the reference, sends one only once half the window is used
 * (or with a flag to send). This makes js-yamux do the same, for every yamux
 * connection in the process: the wire format is unchanged, and a peer
 * running either behaviour interoperates, since window updates are
 * cumulative. See docs/upstream/libp2p-yamux-window-update.md.
 */
export function sendWindowUpdatesAtHalfWindow (): void {
  if (installed) return
  installed = true
  const prototype = YamuxStream.prototype as unknown as WindowedStream
  const original = prototype.sendWindowUpdate
  if (typeof original !== 'function' || StreamState.Established == null) {
    log.error('yamux streams no longer have sendWindowUpdate: window updates are left as yamux sends them')
    return
  }
  prototype.sendWindowUpdate = function (this: WindowedStream): void {
    // Only an established stream: the first update carries the SYN/ACK flags and must go.
    if (this.state === StreamState.Established && this.recvWindow - this.recvWindowCapacity < this.recvWindow / 2) return
    original.call(this)
  }
}
