// The raw libp2p baseline of the benchmarks (and a plain stream for tests): bytes and nothing else, over the same TCP + Noise + Yamux as herd.
import type { PeerId, Stream } from '@libp2p/interface'
import { byteStream } from '@libp2p/utils'
import type { MeshLibp2p } from '../src/mesh/libp2p.js'

export const BENCH_PROTOCOL = '/herd-bench/throughput/1.0.0'

/** The dialer sends the byte count (u64 big-endian); the listener sends that many bytes, `block` after `block`, and closes. */
export async function serveBench (stream: Stream, block: Uint8Array, timeoutMs: number): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs)
  try {
    const reader = byteStream(stream)
    const header = (await reader.read({ bytes: 8, signal })).subarray()
    let left = Number(new DataView(header.buffer, header.byteOffset, 8).getBigUint64(0))
    const raw = reader.unwrap()
    while (left > 0) {
      const piece = left >= block.byteLength ? block : block.subarray(0, left)
      left -= piece.byteLength
      if (!raw.send(piece)) await raw.onDrain({ signal })
    }
    await raw.close({ signal })
  } catch (err) {
    stream.abort(err as Error)
  }
}

export async function pullBench (from: MeshLibp2p, to: PeerId, bytes: number, signal: AbortSignal): Promise<void> {
  const stream = await from.dialProtocol(to, BENCH_PROTOCOL, { signal })
  const onAbort = (): void => { stream.abort(new Error('bench stream timed out')) }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    const header = new Uint8Array(8)
    new DataView(header.buffer).setBigUint64(0, BigInt(bytes))
    stream.send(header)
    let received = 0
    for await (const chunk of stream) received += chunk.byteLength
    if (received !== bytes) throw new Error(`libp2p: got ${received} of ${bytes} bytes`)
    await stream.close({ signal })
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
