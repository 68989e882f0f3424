import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import {
  chunkCount, chunkRange, chunkTreeOfBytes, chunkTreeOfFile, ChunkTreeBuilder, hashLeaf, inclusionProof,
  rootFromProof, verifyChunk, toHex, hashFromHex, encodeChunkHashes, decodeChunkHashes, type ChunkTreeDescriptor
} from '../../src/blob/index.js'

const KiB = 1024

describe('chunk tree', () => {
  it('hashes leaves and nodes with distinct prefixes', () => {
    const a = Buffer.from('a'.repeat(KiB))
    const b = Buffer.from('b'.repeat(10))
    const tree = chunkTreeOfBytes(Buffer.concat([a, b]), KiB)
    const leafA = createHash('sha256').update(Buffer.from([0])).update(a).digest()
    const leafB = createHash('sha256').update(Buffer.from([0])).update(b).digest()
    const root = createHash('sha256').update(Buffer.from([1])).update(leafA).update(leafB).digest()
    assert.equal(toHex(tree.root), root.toString('hex'))
    assert.equal(tree.size, KiB + 10)
  })

  it('gives the same root however the stream is cut', () => {
    const bytes = randomBytes(10 * KiB + 123)
    const whole = chunkTreeOfBytes(bytes, KiB)
    const builder = new ChunkTreeBuilder(KiB)
    for (let offset = 0; offset < bytes.length; offset += 777) builder.update(bytes.subarray(offset, offset + 777))
    assert.deepEqual(builder.digest().root, whole.root)
    assert.equal(whole.leaves.length, 11)
  })

  it('streams a file from disk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'herd-tree-'))
    try {
      const bytes = randomBytes(3 * 1024 * KiB + 5)
      await writeFile(join(dir, 'f'), bytes)
      const fromFile = await chunkTreeOfFile(join(dir, 'f'), { chunkSize: 1024 * KiB })
      assert.deepEqual(fromFile.root, chunkTreeOfBytes(bytes).root)
      assert.equal(fromFile.leaves.length, 4)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('proves every chunk for trees of 1 to 17 leaves and refuses tampering', () => {
    for (let leaves = 1; leaves <= 17; leaves++) {
      const bytes = randomBytes(leaves * KiB - (leaves > 1 ? 100 : 0))
      const tree = chunkTreeOfBytes(bytes, KiB)
      assert.equal(tree.leaves.length, chunkCount(bytes.length, KiB))
      for (let i = 0; i < tree.leaves.length; i++) {
        const { start, end } = chunkRange(i, bytes.length, KiB)
        const chunk = bytes.subarray(start, end)
        const proof = inclusionProof(tree, i)
        assert.equal(verifyChunk(chunk, proof, tree.root), true, `leaves=${leaves} index=${i}`)
        const flipped = Buffer.from(chunk)
        flipped[0] = (flipped[0] ?? 0) ^ 1
        assert.equal(verifyChunk(flipped, proof, tree.root), false)
        if (leaves > 1) {
          assert.equal(verifyChunk(chunk, { ...proof, index: (i + 1) % leaves }, tree.root), false)
          assert.equal(verifyChunk(chunk, { ...proof, siblings: proof.siblings.slice(1) }, tree.root), false)
          assert.equal(verifyChunk(chunk, { ...proof, siblings: [...proof.siblings, tree.root] }, tree.root), false)
        }
      }
    }
  })

  it('gives an empty blob one empty chunk', () => {
    const tree = chunkTreeOfBytes(new Uint8Array(0), KiB)
    assert.equal(tree.leaves.length, 1)
    assert.deepEqual(tree.root, hashLeaf(new Uint8Array(0)))
    assert.deepEqual(rootFromProof(hashLeaf(new Uint8Array(0)), inclusionProof(tree, 0)), tree.root)
  })

  it('validates its arguments', () => {
    assert.throws(() => new ChunkTreeBuilder(10), { name: 'InvalidArgumentError' })
    assert.throws(() => chunkRange(2, 2 * KiB, KiB), { name: 'InvalidArgumentError' })
    assert.throws(() => hashFromHex('zz'), { name: 'InvalidArgumentError' })
    assert.throws(() => rootFromProof(new Uint8Array(32), { index: 5, leafCount: 3, siblings: [] }), { name: 'ChunkVerificationError' })
    assert.equal(toHex(hashFromHex('0x' + 'ab'.repeat(32))), 'ab'.repeat(32))
  })
})

describe('chunk hashes', () => {
  it('round-trips the leaves, checked against the root, for 1 to 9 chunks and an empty blob', () => {
    for (const size of [0, 1, KiB, KiB + 1, 9 * KiB]) {
      const tree = chunkTreeOfBytes(randomBytes(size), KiB)
      const bytes = encodeChunkHashes(tree.leaves)
      assert.equal(bytes.length, 32 * chunkCount(size, KiB))
      assert.deepEqual(Buffer.from(bytes), Buffer.concat(tree.leaves), 'the leaves concatenated, nothing else')
      const descriptor = { size, chunkSize: KiB, chunkRoot: tree.root }
      assert.deepEqual(decodeChunkHashes(bytes, descriptor).map(l => Buffer.from(l)), tree.leaves.map(l => Buffer.from(l)))
      assert.deepEqual(decodeChunkHashes(bytes, { ...descriptor, chunkRoot: toHex(tree.root) }).length, tree.leaves.length, 'the root may be hex')
    }
  })

  it('hands back leaves that check chunks on their own', () => {
    const data = randomBytes(5 * KiB + 7)
    const tree = chunkTreeOfBytes(data, KiB)
    const leaves = decodeChunkHashes(Buffer.from(encodeChunkHashes(tree.leaves)), { size: data.length, chunkSize: KiB, chunkRoot: toHex(tree.root) })
    const { start, end } = chunkRange(3, data.length, KiB)
    assert.deepEqual(Buffer.from(hashLeaf(data.subarray(start, end))), Buffer.from(leaves[3]!))
    const proof = inclusionProof({ ...tree, leaves }, 3)
    assert.equal(verifyChunk(data.subarray(start, end), proof, tree.root), true)
  })

  it('refuses hashes of the wrong length or that do not give the root', () => {
    const size = 4 * KiB + 1
    const tree = chunkTreeOfBytes(randomBytes(size), KiB)
    const bytes = encodeChunkHashes(tree.leaves)
    const descriptor: ChunkTreeDescriptor = { size, chunkSize: KiB, chunkRoot: toHex(tree.root) }
    const refused = (b: Uint8Array, d: ChunkTreeDescriptor, message: RegExp): void => {
      assert.throws(() => decodeChunkHashes(b, d), (err: Error) => err.name === 'ChunkVerificationError' && message.test(err.message))
    }
    refused(bytes.subarray(0, bytes.length - 32), descriptor, /are 128 bytes; .* has 5 chunks, so 160 bytes/)
    refused(bytes.subarray(0, bytes.length - 1), descriptor, /are 159 bytes/)
    refused(Buffer.concat([bytes, new Uint8Array(32)]), descriptor, /are 192 bytes/)
    refused(new Uint8Array(0), descriptor, /are 0 bytes/)
    refused(bytes, { ...descriptor, size: 6 * KiB }, /6 chunks, so 192 bytes/)
    const flipped = Uint8Array.from(bytes)
    flipped[40] = (flipped[40] ?? 0) ^ 1
    refused(flipped, descriptor, new RegExp(`not the registered chunk root ${toHex(tree.root)}`))
    const swapped = Buffer.concat([tree.leaves[1]!, tree.leaves[0]!, ...tree.leaves.slice(2)])
    refused(swapped, descriptor, /not the registered chunk root/)
    refused(bytes, { ...descriptor, chunkRoot: toHex(randomBytes(32)) }, /not the registered chunk root/)
    refused(bytes, { ...descriptor, chunkRoot: tree.leaves[0]! }, /not the registered chunk root/)
    assert.throws(() => decodeChunkHashes(bytes, { ...descriptor, chunkRoot: 'zz' }), { name: 'InvalidArgumentError' })
    assert.throws(() => decodeChunkHashes(bytes, { ...descriptor, chunkSize: 10 }), { name: 'InvalidArgumentError' })
    assert.throws(() => decodeChunkHashes(bytes, { ...descriptor, size: -1 }), { name: 'InvalidArgumentError' })
    assert.throws(() => encodeChunkHashes([new Uint8Array(31)]), { name: 'InvalidArgumentError' })
  })
})
