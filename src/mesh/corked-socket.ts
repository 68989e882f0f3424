import type { Socket } from 'node:net'
import { logger } from '@libp2p/logger'
import type { Uint8ArrayList } from 'uint8arraylist'

const log = logger('herd:mesh:corked-socket')

/** The parts of @libp2p/tcp's connection this change uses (its class is not exported; the fields are plain at run time). */
interface SocketConnection {
  socket?: Socket
  sendData?: (data: Uint8ArrayList) => { sentBytes: number, canSendMore: boolean }
}

const corked = new WeakSet<object>()
let warned = false

/**
 * @libp2p/tcp writes every piece of a send with its own `socket.write`, and
 * Noise hands it at least two pieces per 64 KiB frame (the 2-byte length, the
 * ciphertext; three with herd's crypto, whose tag is not joined to the text):
 * a syscall and a write request each, about 50 per MiB. Corked, the pieces of
 * one send leave in one writev. `canSendMore` follows the socket as before: it
 * is false only when the socket kept more than its high-water mark, and then
 * a write returned false, so the socket will emit the 'drain' the connection
 * waits for. Applied to one connection (Noise's transport, whatever it is);
 * anything without a net.Socket is left as it is.
 */
export function corkSends (connection: unknown): void {
  const tcp = connection as SocketConnection
  const socket = tcp.socket
  if (corked.has(tcp)) return
  if (socket == null || typeof socket.cork !== 'function' || typeof tcp.sendData !== 'function') {
    if (!warned && socket != null) {
      warned = true
      log.error('the TCP connection has no sendData where herd looks for it: its writes are left as they are')
    }
    return
  }
  corked.add(tcp)
  tcp.sendData = (data: Uint8ArrayList) => {
    socket.cork()
    for (const buf of data) socket.write(buf)
    socket.uncork()
    return { sentBytes: data.byteLength, canSendMore: socket.writableLength < socket.writableHighWaterMark }
  }
}
