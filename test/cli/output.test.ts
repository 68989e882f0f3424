import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { describe, it } from 'node:test'
import { operatorLog } from '../../src/cli/output/log.js'
import { describeEvent } from '../../src/cli/output/node-event-lines.js'
import { readySummary } from '../../src/cli/output/ready-summary.js'
import { renderStatus, statusViewSchema } from '../../src/cli/output/status-view.js'

function sink (): { stream: Writable, text: () => string } {
  let text = ''
  return { stream: new Writable({ write (chunk, _enc, done) { text += String(chunk); done() } }), text: () => text }
}

describe('operator output', () => {
  it('on a terminal: the time and the message, warnings on stderr, filtered by level', () => {
    const out = sink()
    const err = sink()
    const log = operatorLog({ level: 'info', json: false, stdout: out.stream, stderr: err.stream })
    log.debug({ event: 'x' }, 'not shown at info')
    log.info({ event: 'peer:joined' }, 'peer joined P')
    log.warn({ event: 'funds:blocked' }, 'no funds')
    assert.match(out.text(), /^\d\d:\d\d:\d\d peer joined P\n$/)
    assert.match(err.text(), /^\d\d:\d\d:\d\d warn: no funds\n$/)
    const quiet = sink()
    operatorLog({ level: 'warn', json: false, stdout: quiet.stream, stderr: quiet.stream }).info('dropped')
    assert.equal(quiet.text(), '')
  })

  it('as JSON lines: the level by name, an ISO time, the fields and the message', () => {
    const out = sink()
    operatorLog({ level: 'info', json: true, stdout: out.stream }).info({ event: 'peer:left', peerId: 'P' }, 'peer left P')
    const line = JSON.parse(out.text())
    assert.deepEqual({ ...line, time: undefined }, { level: 'info', time: undefined, event: 'peer:left', peerId: 'P', msg: 'peer left P' })
    assert.ok(!Number.isNaN(Date.parse(line.time)))
  })

  it('says a download\'s size, time, speed and sources in words', () => {
    const line = describeEvent({ type: 'download:finished', at: 0, blobId: 'A'.repeat(43), size: 4 * 1024 * 1024, bytesFromPeers: 3 * 1024 * 1024, bytesFromWalrus: 1024 * 1024, peers: 2, ms: 2000 })
    assert.equal(line, 'download finished AAAAAAAA…AAAAAA: 4.00 MiB in 2.0 s at 2.00 MiB/s, 75.0% from 2 peers, 25.0% from Walrus')
  })

  it('sums up a ready node and draws a status with its downloads', () => {
    const summary = readySummary({ peerId: '12D3KooWX', multiaddrs: ['/ip4/127.0.0.1/tcp/1/p2p/12D3KooWX'], api: 'http://127.0.0.1:2', apiToken: true, network: 'devnet', address: '0x1', walrus: 'http://w', ledger: 'http://l', dataDir: '/d', cacheBytes: 0, quotaBytes: 1024 ** 3 })
    assert.match(summary, /peer ID\s+12D3KooWX/)
    assert.match(summary, /API\s+http:\/\/127\.0\.0\.1:2 \(token required\)/)
    assert.match(summary, /cache\s+0 B of 1.00 GiB quota/)
    const status = statusViewSchema.parse({
      peerId: 'P',
      peers: 2,
      cache: { blobs: 1, bytes: 512, quotaBytes: 1024, pinned: 0, evictions: 0, downloads: [{ blobId: 'B'.repeat(43), size: 10_485_760, held: 3, chunks: 10 }] },
      fetch: { localHits: 1, peerHits: 2, walrusHits: 1, bytesFromPeers: 300, bytesFromWalrus: 100, badChunks: 0 },
      inference: { runs: 9, forwarded: 0, failed: 2, busy: 1, queue: 4, sessions: 1, sessionLoads: 3 },
      serve: { requests: 9, chunksServed: 6, bytesServed: 6 * 1024 ** 2, refused: 1, watching: 3, paceBytesPerSec: 2 * 1024 ** 2, paceWaitSeconds: 12.4 },
      proofs: { enabled: true, queued: 5, sealed: 7, bundles: 2, setAside: 1, retrying: false },
      funds: { address: '0xabc', blocked: [{ kind: 'anchor', since: 0, error: 'InsufficientGasError' }] }
    })
    const text = renderStatus('http://api', status)
    assert.match(text, /^served\s+6\.00 MiB in 6 chunks to peers; 1 requests refused; watched by 3 peer downloads; upload pace 2\.00 MiB\/s, waited on 12 s$/m)
    assert.doesNotMatch(text, / now/, 'no rates from one read')
    assert.match(text, /^cache\s+\S+ 512 B of 1.00 KiB \(50\.0%\)/m)
    assert.match(text, /^ {2}BBBBBBBB…BBBBBB\s+\S{24} 3\/10 chunks of 10\.0 MiB$/m)
    assert.match(text, /^hits\s+4 requests: 25\.0% local, 50\.0% from peers, 25\.0% from Walrus$/m)
    // The queue is what runs or waits now; busy counts answers since start, part of the failures.
    assert.match(text, /^inference\s+4 running or waiting, 1 sessions warm \(3 loaded since start\); 9 runs, 0 forwarded, 2 failed \(1 answered busy\)$/m)
    const older = statusViewSchema.parse({ ...status, inference: { runs: 9, forwarded: 0, failed: 2, busy: 1, queue: 4, sessions: 1 } })
    assert.match(renderStatus('http://api', older), /^inference\s+4 running or waiting, 1 sessions warm; 9 runs/m, 'a node without sessionLoads')
    assert.match(text, /^proofs\s+5 queued, 7 sealed in 2 anchored bundles, 1 set aside$/m)
    // On testnet and mainnet a queue waits up to 10 minutes: the status says until when.
    const waiting = renderStatus('http://api', statusViewSchema.parse({ ...status, proofs: { ...status.proofs, nextSealAt: Date.UTC(2026, 11, 5, 0, 10, 0) } }))
    assert.match(waiting, /^proofs\s+5 queued \(sealed by 00:10:00 UTC at the latest\), 7 sealed/m)
    const retrying = renderStatus('http://api', statusViewSchema.parse({ ...status, proofs: { ...status.proofs, nextSealAt: 1, retrying: true } }))
    assert.doesNotMatch(retrying, /sealed by/, 'not while writes fail')
    const writing = renderStatus('http://api', statusViewSchema.parse({ ...status, proofs: { ...status.proofs, writing: 3, writesAtOnce: 4 } }))
    assert.match(writing, /^proofs\s+5 queued, 7 sealed in 2 anchored bundles \(3 more being written, 4 at most at once\), 1 set aside$/m)
    assert.match(text, /^FUNDS\s+anchor writes blocked .* fund 0xabc/m)
  })

  it('shows what the node keeps on Walrus once it keeps something, and says a renewal in words', () => {
    const base = {
      peerId: 'P',
      peers: 0,
      cache: { blobs: 0, bytes: 0, quotaBytes: 1024, pinned: 0, evictions: 0, downloads: [] },
      fetch: { localHits: 0, peerHits: 0, walrusHits: 0, bytesFromPeers: 0, bytesFromWalrus: 0, badChunks: 0 },
      inference: { runs: 0, forwarded: 0, failed: 0, busy: 0, queue: 0, sessions: 0 },
      proofs: { enabled: true, queued: 0, sealed: 0, bundles: 0, setAside: 0, retrying: false }
    }
    const storage = { tracked: 0, active: 0, renewed: 0, failing: 0, expiringSoon: 0, expired: 0, cannotExtend: 0, spentThisEpoch: 0, maxSpendPerEpoch: 1, ceilingReached: false }
    assert.doesNotMatch(renderStatus('http://api', statusViewSchema.parse({ ...base, storage })), /^storage/m, 'nothing kept, no line')
    const kept = renderStatus('http://api', statusViewSchema.parse({ ...base, storage: { ...storage, epoch: 12, tracked: 4, active: 3, renewed: 2, failing: 1, expiringSoon: 1, expired: 1, lastError: 'renewing blob X: no WAL' } }))
    assert.match(kept, /^storage\s+3 kept on Walrus \(epoch 12\), 2 renewed, 1 failing, 1 within one epoch of their end; 1 LOST; last error: renewing blob X: no WAL$/m)
    assert.equal(statusViewSchema.safeParse({ ...base, storage: { ...storage, renewed: -1 } }).success, false)
    assert.equal(describeEvent({ type: 'storage:renewed', at: 0, blobId: 'C'.repeat(43), fromEpoch: 5, toEpoch: 9, cost: 1200 }), 'storage renewed CCCCCCCC…CCCCCC: end epoch 5 -> 9 for 1200 FROST')
  })

  it('with an earlier read (--watch), shows what was fetched and served a second since, and no rate over a restart', () => {
    const at = (bytesFromPeers: number, bytesServed: number): ReturnType<typeof statusViewSchema.parse> => statusViewSchema.parse({
      peerId: 'P',
      peers: 1,
      cache: { blobs: 0, bytes: 0, quotaBytes: 1024, pinned: 0, evictions: 0, downloads: [] },
      fetch: { localHits: 0, peerHits: 0, walrusHits: 0, bytesFromPeers, bytesFromWalrus: 0, badChunks: 0 },
      serve: { requests: 0, chunksServed: 0, bytesServed, refused: 0, paceBytesPerSec: 0, paceWaitSeconds: 0 },
      inference: { runs: 0, forwarded: 0, failed: 0, busy: 0, queue: 0, sessions: 0 },
      proofs: { enabled: false, queued: 0, sealed: 0, bundles: 0, setAside: 0, retrying: false }
    })
    const text = renderStatus('http://api', at(3 * 1024 ** 2, 5 * 1024 ** 2), { status: at(1024 ** 2, 1024 ** 2), ms: 2000 })
    assert.match(text, /^fetched\s+3\.00 MiB: .*, 1\.00 MiB\/s now$/m)
    assert.match(text, /^served\s+5\.00 MiB in 0 chunks to peers, 2\.00 MiB\/s now; 0 requests refused; no upload pace$/m)
    const restarted = renderStatus('http://api', at(0, 0), { status: at(1024 ** 2, 1024 ** 2), ms: 1000 })
    assert.doesNotMatch(restarted, / now/, 'counters that went back are a restart, not a rate')
    // A node from before the upload pace has no serve section: no served line, the rest as ever.
    const { serve: _serve, ...older } = at(0, 0)
    assert.doesNotMatch(renderStatus('http://api', statusViewSchema.parse(older)), /^served/m)
    assert.equal(statusViewSchema.safeParse({ ...at(0, 0), serve: { chunksServed: 0, bytesServed: -1, refused: 0, paceBytesPerSec: 0, paceWaitSeconds: 0 } }).success, false)
  })

  it('refuses a status that is not one', () => {
    const bad = statusViewSchema.safeParse({ peerId: 'P', peers: -1 })
    assert.equal(bad.success, false)
  })
})
