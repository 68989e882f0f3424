import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Socket } from 'node:net'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createMeshLibp2p } from '../../src/mesh/libp2p.js'
import { BENCH_PROTOCOL, pullBench, serveBench } from '../../harness/raw-stream.js'

const MiB = 1024 * 1024
/** Noise's largest frame: before this change every one cost at least two socket writes (its length, its ciphertext). */
const NOISE_FRAME_BYTES = 65535

describe('corked TCP sends', () => {
  it('the sender writes a bulk stream to its socket in fewer writes than Noise frames, every byte intact', async () => {
    const init = { listen: ['/ip4/127.0.0.1/tcp/0'], privateNetwork: true, allow: ['/ip4/127.0.0.1'] }
    const [a, b] = await Promise.all([createMeshLibp2p({ ...init, privateKey: await generateKeyPair('Ed25519') }), createMeshLibp2p({ ...init, privateKey: await generateKeyPair('Ed25519') })])
    // Writes that reach the socket's handle (one syscall each): _write for one buffer, _writev for a corked run.
    const proto = Socket.prototype as unknown as { _write: (...args: unknown[]) => void, _writev: (...args: unknown[]) => void }
    const { _write: write, _writev: writev } = proto
    let senderWrites = 0
    try {
      await Promise.all([a.start(), b.start()])
      await b.handle(BENCH_PROTOCOL, stream => { void serveBench(stream, randomBytes(256 * 1024), 30_000) }, { maxInboundStreams: 2, maxOutboundStreams: 2 })
      const signal = AbortSignal.timeout(30_000)
      await a.dial(b.getMultiaddrs(), { signal })
      // b sends the bytes; its end of the connection is the socket on its listening port.
      const senderPort = Number(b.getMultiaddrs()[0]?.getComponents().find(c => c.name === 'tcp')?.value)
      const count = (socket: Socket): void => { if (socket.localPort === senderPort) senderWrites++ }
      proto._write = function (this: Socket, ...args: unknown[]) { count(this); write.apply(this, args) }
      proto._writev = function (this: Socket, ...args: unknown[]) { count(this); writev.apply(this, args) }
      const bytes = 8 * MiB
      // pullBench checks every byte arrived; Noise's tags check that none changed.
      await pullBench(a, b.peerId, bytes, signal)
      // At most one write per yamux data frame (at least half a 256 KiB window each) now, against two per Noise frame before.
      const frames = Math.ceil(bytes / NOISE_FRAME_BYTES)
      assert.ok(senderWrites > 0 && senderWrites < frames, `${senderWrites} socket writes by the sender for ${frames} Noise frames`)
    } finally {
      proto._write = write
      proto._writev = writev
      await Promise.allSettled([a.stop(), b.stop()])
    }
  })
})
