import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import {
  chunkCount, chunkRange, chunkTreeOfBytes, chunkTreeOfFile, ChunkTreeBuilder, hashLeaf, inclusionProof,
  rootFromProof, verifyChunk, toHex, hashFromHex
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
