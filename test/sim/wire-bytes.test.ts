import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseWireCounters, WireTally } from '../../sim/wire-bytes.js'

const exposition = (global: number, blob: number): string => [
  '# HELP libp2p_data_transfer_bytes_total Collected by prometheus-metrics',
  '# TYPE libp2p_data_transfer_bytes_total counter',
  `libp2p_data_transfer_bytes_total{protocol="global sent"} ${global}`,
  'libp2p_data_transfer_bytes_total{protocol="global received"} 999999',
  `libp2p_data_transfer_bytes_total{protocol="/herd/blob/1.0.0 sent"} ${blob}`,
  'libp2p_data_transfer_bytes_total{protocol="/meshsub/1.1.0 sent"} 7',
  'herd_cache_blobs 3'
].join('\n')

describe('bytes on the wire', () => {
  it('reads the sent series of the transfer counter, nothing else', () => {
    const counters = parseWireCounters(exposition(1000, 600))
    assert.deepEqual([...counters].sort(), [['/herd/blob/1.0.0', 600], ['/meshsub/1.1.0', 7], ['global', 1000]])
    assert.equal(parseWireCounters('garbage\nlibp2p_data_transfer_bytes_total{protocol="global sent"} NaN').size, 0)
  })

  it('sums what each node sent over its lifetimes: a restart starts its counters again', () => {
    const tally = new WireTally()
    tally.begin(0, parseWireCounters(exposition(100, 0)))
    tally.begin(1, parseWireCounters(exposition(50, 0)))
    // Node 1 leaves having sent 450 more, then comes back from zero and sends 30.
    tally.end(1, parseWireCounters(exposition(500, 400)))
    tally.begin(1, parseWireCounters(exposition(0, 0)))
    tally.end(1, parseWireCounters(exposition(30, 10)))
    tally.end(0, parseWireCounters(exposition(300, 150)))
    // A node that did not answer adds nothing.
    tally.begin(2, undefined)
    tally.end(2, parseWireCounters(exposition(5000, 5000)))
    assert.deepEqual(tally.result(), { total: 450 + 30 + 200, byProtocol: { '/herd/blob/1.0.0': 400 + 10 + 150 } })
  })
})
