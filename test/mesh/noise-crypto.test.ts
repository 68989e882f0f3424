import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Uint8ArrayList } from 'uint8arraylist'
import { createMeshLibp2p } from '../../src/mesh/libp2p.js'
import { herdNoiseCrypto, SMALL_MESSAGE_BYTES } from '../../src/mesh/noise-crypto.js'
import { BENCH_PROTOCOL, pullBench, serveBench } from '../../harness/raw-stream.js'

const bytesOf = (data: Uint8Array | { subarray: () => Uint8Array }): Buffer => Buffer.from(data instanceof Uint8Array ? data : data.subarray())

describe('herd noise crypto', () => {
  const nonce = new Uint8Array(12)
  const ad = randomBytes(32)

  it('seals and opens as noise\'s default does, for small frames, full frames and frames in pieces', () => {
    const k = randomBytes(32)
    // Either side of herd's switch to node:crypto, and of noise's own (1,200 bytes).
    for (const size of [0, 100, SMALL_MESSAGE_BYTES - 1, SMALL_MESSAGE_BYTES, 1199, 1200, 4096, 65519]) {
      const plaintext = randomBytes(size)
      const ours = bytesOf(herdNoiseCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k))
      assert.deepEqual(ours, bytesOf(defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)), `${size} bytes sealed alike`)
      assert.deepEqual(bytesOf(defaultCrypto.chaCha20Poly1305Decrypt(ours, nonce, ad, k)), plaintext)
      // noise hands a frame that spans two socket reads over as a list (its own uint8arraylist release: alike at run time).
      const pieces = new Uint8ArrayList(ours.subarray(0, Math.floor(size / 3)), ours.subarray(Math.floor(size / 3))) as unknown as Parameters<typeof herdNoiseCrypto.chaCha20Poly1305Decrypt>[0]
      assert.deepEqual(bytesOf(herdNoiseCrypto.chaCha20Poly1305Decrypt(pieces, nonce, ad, k)), plaintext, `${size} bytes opened from two pieces`)
    }
  })

  it('refuses a frame with a flipped bit, and a key changed in place', () => {
    const k = randomBytes(32)
    const sealed = bytesOf(herdNoiseCrypto.chaCha20Poly1305Encrypt(randomBytes(8192), nonce, ad, k))
    assert.ok(herdNoiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, k).byteLength === 8192)
    const flipped = Buffer.from(sealed)
    flipped[100] = (flipped[100] as number) ^ 1
    assert.throws(() => herdNoiseCrypto.chaCha20Poly1305Decrypt(flipped, nonce, ad, k))
    // The KeyObject is cached per key array: one rewritten in place must not be met by the old key.
    k[0] = (k[0] as number) ^ 1
    assert.throws(() => herdNoiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, k))
  })

  it('carries a stream between two libp2p nodes of herd\'s', async () => {
    const init = { listen: ['/ip4/127.0.0.1/tcp/0'], privateNetwork: true, allow: ['/ip4/127.0.0.1'] }
    const [a, b] = await Promise.all([createMeshLibp2p({ ...init, privateKey: await generateKeyPair('Ed25519') }), createMeshLibp2p({ ...init, privateKey: await generateKeyPair('Ed25519') })])
    try {
      await Promise.all([a.start(), b.start()])
      await b.handle(BENCH_PROTOCOL, stream => { void serveBench(stream, randomBytes(100_000), 30_000) }, { maxInboundStreams: 2, maxOutboundStreams: 2 })
      const signal = AbortSignal.timeout(30_000)
      await a.dial(b.getMultiaddrs(), { signal })
      // pullBench checks every byte arrived; Noise's tags check that none changed.
      await pullBench(a, b.peerId, 3 * 1024 * 1024 + 17, signal)
    } finally {
      await Promise.allSettled([a.stop(), b.stop()])
    }
  })
})
