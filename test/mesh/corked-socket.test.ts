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
  it('writes a bulk stream to the socket in fewer writes than Noise frames, every byte intact', async () => {
    const init = { listen: ['/ip4/127.0.0.1/tcp/0'], privateNetwork: true, allow: ['/ip4/127.0.0.1'] }
    const [a, b] = await Promise.all([createMeshLibp2p({ ...init, privateKey: await generateKeyPair('Ed25519') }), createMeshLibp2p({ ...init, privateKey: await generateKeyPair('Ed25519') })])
    // Writes that reach the socket's handle (one syscall each): _write for one buffer, _writev for a corked run.
    const proto = Socket.prototype as unknown as { _write: (...args: unknown[]) => void, _writev: (...args: unknown[]) => void }
    const { _write: write, _writev: writev } = proto
    let handleWrites = 0
    try {
      await Promise.all([a.start(), b.start()])
      await b.handle(BENCH_PROTOCOL, stream => { void serveBench(stream, randomBytes(256 * 1024), 30_000) }, { maxInboundStreams: 2, maxOutboundStreams: 2 })
      const signal = AbortSignal.timeout(30_000)
      await a.dial(b.getMultiaddrs(), { signal })
      proto._write = function (this: Socket, ...args: unknown[]) { handleWrites++; write.apply(this, args) }
      proto._writev = function (this: Socket, ...args: unknown[]) { handleWrites++; writev.apply(this, args) }
      const bytes = 8 * MiB
      // pullBench checks every byte arrived; Noise's tags check that none changed.
      await pullBench(a, b.peerId, bytes, signal)
      // Both ends' writes are counted (the receiver's window updates too): still fewer than one per frame sent.
      const frames = Math.ceil(bytes / NOISE_FRAME_BYTES)
      assert.ok(handleWrites < frames, `${handleWrites} socket writes for ${frames} Noise frames`)
    } finally {
      proto._write = write
      proto._writev = writev
      await Promise.allSettled([a.stop(), b.stop()])
    }
  })
})
