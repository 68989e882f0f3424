import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseNodeConfig } from '../../src/node-config.js'
import { DEFAULT_BUNDLE_RETENTION_MS, DEFAULT_EXTEND_EPOCHS, DEFAULT_RENEW_WITHIN_EPOCHS } from '../../src/storage/constants.js'
import { DEFAULT_EPOCH_MS } from '../../src/walrus/local/constants.js'

describe('the storage section of the node config', () => {
  it('has the layer\'s defaults and refuses policies that cannot work, naming the field', () => {
    const config = parseNodeConfig({ dataDir: '/tmp/x' })
    assert.equal(config.storage.renewWithinEpochs, DEFAULT_RENEW_WITHIN_EPOCHS)
    assert.equal(config.storage.extendEpochs, DEFAULT_EXTEND_EPOCHS)
    assert.equal(config.storage.bundleRetentionMs, DEFAULT_BUNDLE_RETENTION_MS)
    assert.equal(config.embedded.walrusEpochMs, DEFAULT_EPOCH_MS)
    assert.throws(() => parseNodeConfig({ dataDir: '/tmp/x', storage: { renewWithinEpochs: 5, extendEpochs: 3 } }), (err: Error) => err.name === 'NodeConfigError' && err.message.includes('storage'))
    assert.throws(() => parseNodeConfig({ dataDir: '/tmp/x', storage: { extendEpochs: 54 } }), { name: 'NodeConfigError' })
    assert.throws(() => parseNodeConfig({ dataDir: '/tmp/x', storage: { maxSpendPerEpochFrost: -1 } }), { name: 'NodeConfigError' })
    assert.throws(() => parseNodeConfig({ dataDir: '/tmp/x', embedded: { walrusEpochMs: 50 } }), (err: Error) => err.name === 'NodeConfigError' && err.message.includes('embedded.walrusEpochMs'))
  })
})
