import assert from 'node:assert/strict'
import { createHash, randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { toHex } from '../../src/blob/chunk-tree.js'
import type { AnchorEntry, Ledger } from '../../src/chain/types.js'
import { decodeBundle, receiptRoot, type BundleContents } from '../../src/proof/bundle.js'
import type { WalrusHttpClient } from '../../src/walrus/http-client.js'

/** A bundle read back from Walrus through a file of its own in `dir`. */
export async function downloadBundle (http: Pick<WalrusHttpClient, 'getToFile'>, dir: string, blobId: string): Promise<BundleContents> {
  const path = join(dir, `bundle-${randomUUID()}`)
  await http.getToFile(blobId, path)
  return decodeBundle(await readFile(path))
}

/** A receipt in an anchored bundle: the anchor, the bundle as Walrus holds it, and the receipt's leaf index there. */
export interface AnchoredReceipt {
  anchor: AnchorEntry
  bundle: BundleContents
  index: number
}

/**
 * Every receipt in the bundles `address` anchored, by receipt ID, checked on
 * the way: no root anchored twice, each bundle (fetched with `download`) as
 * many receipts as its anchor counts and hashing to its root, no receipt in
 * two bundles.
 */
export async function anchoredReceipts (ledger: Pick<Ledger, 'listAnchors'>, download: (blobId: string) => Promise<BundleContents>, address: string): Promise<Map<string, AnchoredReceipt>> {
  const anchors = await ledger.listAnchors(address)
  assert.equal(new Set(anchors.map(a => a.root)).size, anchors.length, 'no root is anchored twice')
  const where = new Map<string, AnchoredReceipt>()
  for (const anchor of anchors) {
    const bundle = await download(anchor.bundleBlobId)
    assert.equal(bundle.receipts.length, anchor.count)
    assert.equal(toHex(receiptRoot(bundle.receipts)), anchor.root, 'the anchored root is the root of the bundle\'s receipts')
    for (const [index, bytes] of bundle.receipts.entries()) {
      const id = createHash('sha256').update(bytes).digest('hex')
      assert.ok(!where.has(id), `receipt ${id} is in two bundles`)
      where.set(id, { anchor, bundle, index })
    }
  }
  return where
}
