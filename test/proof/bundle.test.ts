import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { decodeBundle, encodeBundle } from '../../src/proof/bundle.js'
import { Bundle } from '../../src/proof/pb/proof.js'
import { ReusedBuffer } from '../../src/proof/reused-buffer.js'

const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n))

describe('encodeBundle', () => {
  it('writes protons\' bytes for Bundle, entry lengths on both sides of every varint boundary, empty entries included', () => {
    const sizes = [0, 1, 127, 128, 16_383, 16_384, 70_000]
    const contents = {
      receipts: sizes.map(n => bytes(250 + (n % 7))),
      inputs: sizes.map(n => bytes(n)),
      outputs: [...sizes].reverse().map(n => bytes(n))
    }
    const ours = encodeBundle(contents)
    assert.deepEqual(Buffer.from(ours), Buffer.from(Bundle.encode({ version: 1, ...contents } as Bundle)))
    const back = decodeBundle(ours)
    assert.deepEqual(back.inputs.map(b => b.byteLength), sizes)
  })

  it('writes into the buffer it is lent, exactly its length', () => {
    const contents = { receipts: [bytes(250), bytes(251)], inputs: [bytes(1000), new Uint8Array(0)], outputs: [bytes(300), new Uint8Array(0)] }
    const lent = new Uint8Array(10_000)
    let asked = 0
    const out = encodeBundle(contents, n => { asked = n; return lent.subarray(100, 100 + n) })
    assert.equal(out.byteLength, asked)
    assert.equal(out.buffer, lent.buffer)
    assert.deepEqual(Buffer.from(out), Buffer.from(Bundle.encode({ version: 1, ...contents } as Bundle)))
  })

  it('refuses no receipts, and entries that do not pair up', () => {
    assert.throws(() => encodeBundle({ receipts: [], inputs: [], outputs: [] }), { name: 'ProofFormatError' })
    assert.throws(() => encodeBundle({ receipts: [bytes(250)], inputs: [], outputs: [new Uint8Array(0)] }), { name: 'ProofFormatError' })
  })
})

describe('ReusedBuffer', () => {
  it('lends pieces that do not overlap until reset, then the same memory again', () => {
    const reused = new ReusedBuffer(1024 * 1024)
    const a = reused.lend(1000)
    const b = reused.lend(2000)
    a.fill(1)
    b.fill(2)
    assert.ok(a.every(v => v === 1), 'b did not write over a')
    assert.equal(a.buffer, b.buffer)
    reused.reset()
    const c = reused.lend(1000)
    assert.equal(c.buffer, a.buffer)
    assert.equal(c.byteOffset, a.byteOffset)
  })

  it('grows up to its limit with earlier pieces intact, and past it lends fresh buffers', () => {
    const reused = new ReusedBuffer(256 * 1024)
    const first = reused.lend(60 * 1024).fill(7)
    const second = reused.lend(100 * 1024)
    assert.notEqual(second.buffer, first.buffer, 'grown')
    assert.ok(first.every(v => v === 7))
    const grown = second.buffer
    reused.lend(200 * 1024)
    const over = reused.lend(300 * 1024)
    assert.equal(over.byteLength, 300 * 1024)
    assert.notEqual(over.buffer, grown)
    reused.reset()
    assert.equal(reused.lend(10).buffer, reused.lend(10).buffer, 'the kept buffer is lent again')
  })
})
