import assert from 'node:assert/strict'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import type { Stream } from '@libp2p/interface'
import { byteStream, lpStream, streamPair } from '@libp2p/utils'
import { encodeVarint } from '../../src/mesh/length-prefixed.js'
import { guardLengthPrefixes, type FramingOf } from '../../src/mesh/prefix-guard.js'

const MIB = 1024 * 1024
const KAD = '/herd/kad/1.0.0'
const PING = '/ipfs/ping/1.0.0'
const KAD_LIMIT = 1000
/** lpStream's protocol with a limit, one with a reader of its own; anything else is not spoken here. */
const framingOf: FramingOf = protocol => protocol === KAD ? { lengthPrefixed: KAD_LIMIT } : protocol === PING ? 'own' : undefined

const frame = (body: Uint8Array | string): Uint8Array => {
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body
  return Uint8Array.from([...encodeVarint(bytes.byteLength), ...bytes])
}
const negotiation = (protocol: string): Uint8Array => Uint8Array.from([...frame('/multistream/1.0.0\n'), ...frame(`${protocol}\n`)])
const signal = (): AbortSignal => AbortSignal.timeout(5_000)

/** `b` guarded; what `a` sends reaches it through a real (in-memory) libp2p stream. */
async function guardedPair (): Promise<[Stream, Stream]> {
  const [a, b] = await streamPair()
  assert.equal(guardLengthPrefixes(b, framingOf), true)
  return [a, b]
}

/** The error `stream` was aborted with, by name, once it closes. */
async function abortedWith (stream: Stream): Promise<string | undefined> {
  if (stream.status !== 'open') return 'already closed'
  const [event] = await once(stream, 'close', { signal: signal() }) as [{ error?: Error }]
  return event.error?.name
}

describe('the length-prefix guard on libp2p streams', () => {
  it('passes an honest negotiation and lpStream messages unchanged, a byte at a time or all at once', async () => {
    const [a, b] = await guardedPair()
    const messages = [new Uint8Array(0), new Uint8Array(KAD_LIMIT).fill(7), new Uint8Array(300).fill(0xff)]
    const wire = Uint8Array.from([...negotiation(KAD), ...messages.flatMap(m => [...frame(m)])])
    const lp = lpStream(b, { maxDataLength: KAD_LIMIT })
    // The negotiation a byte at a time, the messages in one piece.
    const split = negotiation(KAD).byteLength
    for (let i = 0; i < split; i++) a.send(wire.subarray(i, i + 1))
    a.send(wire.subarray(split))
    assert.equal(new TextDecoder().decode((await lp.read({ signal: signal() })).subarray()), '/multistream/1.0.0\n')
    assert.equal(new TextDecoder().decode((await lp.read({ signal: signal() })).subarray()), `${KAD}\n`)
    for (const message of messages) assert.deepEqual((await lp.read({ signal: signal() })).subarray(), message)
    assert.equal(b.status, 'open')
  })

  it('aborts 1 MiB of 0xff in the negotiation at its third byte, before lpStream sees any of it', async () => {
    const [a, b] = await guardedPair()
    const lp = lpStream(b, { maxDataLength: 1024 })
    const read = lp.read({ signal: signal() }).then(() => 'read a message', (err: Error) => err.name)
    const closed = abortedWith(b)
    a.send(new Uint8Array(MIB).fill(0xff))
    assert.equal(await closed, 'LengthPrefixTooLongError')
    assert.equal(await read, 'LengthPrefixTooLongError')
  })

  it('after a protocol lpStream reads, aborts a prefix past its limit and a length over it', async () => {
    for (const [hostile, error] of [[new Uint8Array(64 * 1024).fill(0xff), 'LengthPrefixTooLongError'], [encodeVarint(KAD_LIMIT + 1), 'MessageTooLargeError']] as const) {
      const [a, b] = await guardedPair()
      const closed = abortedWith(b)
      a.send(Uint8Array.from([...negotiation(KAD), ...frame('honest'), ...hostile]))
      assert.equal(await closed, error)
    }
  })

  it('goes on guarding the negotiation past a protocol this side does not speak', async () => {
    const [a, b] = await guardedPair()
    const closed = abortedWith(b)
    a.send(Uint8Array.from([...negotiation('/not/spoken/1.0.0'), ...new Uint8Array(1024).fill(0xff)]))
    assert.equal(await closed, 'LengthPrefixTooLongError')
  })

  it('steps aside after a protocol with its own framing: 0xff bytes there are data', async () => {
    const [a, b] = await guardedPair()
    const reader = byteStream(b)
    const data = new Uint8Array(64 * 1024).fill(0xff)
    a.send(Uint8Array.from([...negotiation(PING), ...data]))
    const got = await reader.read({ bytes: negotiation(PING).byteLength + data.byteLength, signal: signal() })
    assert.deepEqual(got.subarray(negotiation(PING).byteLength), data)
    assert.equal(b.status, 'open')
  })

  it('checks bytes that arrived before it, and a protocol agreed before any byte', async () => {
    const [a, b] = await streamPair()
    // No reader yet: the stream keeps what arrives unread.
    a.send(new Uint8Array(1024).fill(0xff))
    await sleep(50)
    const closed = abortedWith(b)
    guardLengthPrefixes(b, framingOf)
    assert.equal(await closed, 'LengthPrefixTooLongError')

    const [c, d] = await streamPair()
    guardLengthPrefixes(d, framingOf, { protocol: KAD })
    const dClosed = abortedWith(d)
    c.send(encodeVarint(KAD_LIMIT + 1))
    assert.equal(await dClosed, 'MessageTooLargeError')
  })
})
