import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseSocketQueues, socketUse, type SocketSample } from '../../harness/socket-queues.js'

// `ss -tniH state established` in a node's namespace during a pull (trimmed): a connection to the origin, two to peers
// (one with bytes unsent), and the API forwarder's loopback connection.
const SS = [
  '0      0         198.18.0.2:60540   198.18.0.1:41901',
  '\t skmem:(r0,rb131072,t0,tb69120,f0,w0,o0,bl0,d0) bbr wscale:10,10 rto:204 rtt:0.902/1.738 ato:40 mss:1448 cwnd:12 bytes_sent:194',
  '0      286       198.18.0.2:36719   198.18.0.5:54534',
  '\t skmem:(r0,rb3014927,t0,tb69120,f2082,w6110,o0,bl0,d6) bbr wscale:10,10 rto:260 rtt:57.33/48.813 ato:40 mss:1448 cwnd:120 unacked:7',
  '0      262196    198.18.0.2:36719   198.18.0.8:59566',
  '\t skmem:(r0,rb1779023,t0,tb857088,f1484,w268852,o0,bl0,d5) bbr rto:368 rtt:104.178/44.813 mss:1448 cwnd:132 unacked:44 notsent:198484 minrtt:0.005',
  '0      4096      127.0.0.1:4001     127.0.0.1:50312',
  '\t skmem:(r0,rb131072,t0,tb3939840,f0,w0,o0,bl0,d0) bbr rto:208 rtt:7.922/14.487 mss:32768 notsent:4096',
  ''
].join('\n')

const peers = new Set(['198.18.0.3', '198.18.0.5', '198.18.0.8'])

describe('socket queues (bench:swarm --sockets)', () => {
  it('counts the unsent and unacknowledged bytes and the round trips of a node\'s connections to its peers only', () => {
    const queues = parseSocketQueues(SS, a => peers.has(a))
    assert.equal(queues.unsent, 198484)
    assert.equal(queues.queued, 286 + 262196)
    assert.deepEqual(queues.roundTripsMs, [57.33, 104.178])
  })

  it('reads nothing from an empty or foreign output', () => {
    assert.deepEqual(parseSocketQueues('', () => true), { unsent: 0, queued: 0, roundTripsMs: [] })
    assert.deepEqual(parseSocketQueues('Cannot open netlink socket: Permission denied\n', () => true), { unsent: 0, queued: 0, roundTripsMs: [] })
  })

  it('sums up the samples inside a phase: medians over the nodes\' samples, the most, and none for a phase without samples', () => {
    const node = (unsent: number, queued: number, roundTripsMs: number[]): SocketSample['nodes'][number] => ({ unsent, queued, roundTripsMs })
    const samples: SocketSample[] = [
      { at: 0, nodes: [node(0, 0, [1]), node(0, 0, [])] },
      { at: 1000, nodes: [node(100, 300, [50, 150]), undefined] },
      { at: 2000, nodes: [node(900, 1000, [200]), node(300, 500, [100])] },
      { at: 3000, nodes: [node(5, 5, [9]), node(5, 5, [9])] }
    ]
    const use = socketUse(samples, 500, 2500)
    assert.deepEqual(use, { samples: 3, unsentMedian: 300, unsentMost: 900, queuedMedian: 500, roundTripMedianMs: 100 })
    assert.equal(socketUse(samples, 3500, 4000), undefined)
  })
})
