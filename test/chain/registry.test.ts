import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { blobIdFromBytes, type BlobId } from '../../src/blob/blob-id.js'
import { NotFoundError } from '../../src/chain/errors.js'
import { ModelRegistry } from '../../src/chain/registry.js'
import type { Ledger, ModelEntry } from '../../src/chain/types.js'

const id = (): BlobId => blobIdFromBytes(randomBytes(32))

function entry (blobId: BlobId, name = 'm', version = '1'): ModelEntry {
  return { name, version, blobId, size: 10, chunkSize: 4, chunkRoot: '0'.repeat(64), chunkHashesBlobId: id(), format: 'onnx', inputs: [], outputs: [], registeredBy: '0x1', txId: 't', height: 1, time: 1 }
}

/** A ledger that answers from a map and counts what it was asked: the registry's cache is judged by those counts. */
function countingLedger (models: Map<string, ModelEntry>): Pick<Ledger, 'getModel'> & { asked: string[] } {
  const asked: string[] = []
  return {
    asked,
    getModel: async ref => {
      asked.push(ref)
      const found = models.get(ref)
      if (found == null) throw new NotFoundError(`no model ${ref}`)
      return found
    }
  }
}

describe('model registry', () => {
  it('asks the ledger once for a blob ID, whatever describe and model ask after, and once per name TTL for a name', async () => {
    const blobId = id()
    const model = entry(blobId, 'det')
    const ledger = countingLedger(new Map([[blobId, model], ['det', model]]))
    let now = 0
    const registry = new ModelRegistry({ ledger }, { nameTtlMs: 100, now: () => now })
    assert.equal((await registry.model('det')).blobId, blobId)
    // The name's answer also fills the entry by blob ID.
    assert.equal((await registry.describe(blobId)).chunkRoot, model.chunkRoot)
    assert.equal((await registry.model(blobId)).name, 'det')
    assert.equal((await registry.model('det')).blobId, blobId)
    assert.deepEqual(ledger.asked, ['det'])
    now = 1_000_000
    await registry.model(blobId)
    assert.deepEqual(ledger.asked, ['det'], 'an entry by blob ID never expires')
    await registry.model('det')
    assert.deepEqual(ledger.asked, ['det', 'det'], 'a name is asked again after its TTL')
  })

  it('remembers a miss briefly, then asks again', async () => {
    const blobId = id()
    const models = new Map<string, ModelEntry>()
    const ledger = countingLedger(models)
    let now = 0
    const registry = new ModelRegistry({ ledger }, { missTtlMs: 50, now: () => now })
    await assert.rejects(registry.describe(blobId), { name: 'UnregisteredBlobError' })
    await assert.rejects(registry.model(blobId), { name: 'NotFoundError' })
    assert.equal(ledger.asked.length, 1)
    models.set(blobId, entry(blobId))
    now = 51
    assert.equal((await registry.describe(blobId)).blobId, blobId)
    assert.equal(ledger.asked.length, 2)
  })

  it('refuses an entry without chunk hashes as unregistered, and passes the ledger\'s other errors through', async () => {
    const blobId = id()
    const registry = new ModelRegistry({ ledger: countingLedger(new Map([[blobId, { ...entry(blobId), chunkHashesBlobId: '' as BlobId }]])) })
    await assert.rejects(registry.describe(blobId), { name: 'UnregisteredBlobError' })
    const down = new ModelRegistry({ ledger: { getModel: async () => { throw Object.assign(new Error('down'), { name: 'RetryableLedgerError' }) } } })
    await assert.rejects(down.describe(blobId), { name: 'RetryableLedgerError' })
  })

  it('keeps at most maxRemembered entries, the least recently used going first', async () => {
    const ids = [id(), id(), id()]
    const ledger = countingLedger(new Map(ids.map(b => [b, entry(b)])))
    const registry = new ModelRegistry({ ledger }, { maxRemembered: 2 })
    await registry.model(ids[0]!)
    await registry.model(ids[1]!)
    await registry.model(ids[0]!)
    await registry.model(ids[2]!)
    assert.equal(ledger.asked.length, 3)
    await registry.model(ids[0]!)
    assert.equal(ledger.asked.length, 3, 'the entry used last is kept')
    await registry.model(ids[1]!)
    assert.equal(ledger.asked.length, 4, 'the least recently used was forgotten')
  })
})
