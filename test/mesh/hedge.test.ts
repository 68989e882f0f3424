import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { hedgeDue, hedgeMarginMs, walrusAloneMs, walrusDeadline, type HedgeJudgement } from '../../src/mesh/hedge.js'
import { directReadMs, OriginTiming } from '../../src/mesh/origin-timing.js'

const MiB = 1024 * 1024

describe('OriginTiming: Walrus latency and read pace from this node\'s own reads', () => {
  it('takes the latency from small reads and the pace from large ones less that latency', () => {
    const origin = new OriginTiming()
    assert.equal(origin.directMs(MiB, 4 * MiB, 4), undefined, 'nothing timed yet')
    origin.observe(256, 200)
    assert.equal(origin.latencyMs(), 200)
    // 4 MiB in 1,200 ms with 200 ms of latency: 4 MiB/s, not the 3.3 MiB/s of the whole read.
    origin.observe(4 * MiB, 1_200)
    assert.equal(origin.observed(), 4 * MiB * 1000 / 1_200, 'the pace sources are held to is still the whole read\'s')
    assert.equal(origin.directMs(4 * MiB, 4 * MiB, 4), 1_200)
    // 8 MiB is two reads at once; 20 MiB five, in two rounds of four.
    assert.equal(origin.directMs(8 * MiB, 4 * MiB, 4), 1_200)
    assert.equal(origin.directMs(20 * MiB, 4 * MiB, 4), 2_400)
  })

  it('counts a large read\'s whole time as body until a small read shows the latency: a slower pace, never a faster one', () => {
    const origin = new OriginTiming()
    origin.observe(2 * MiB, 1_000)
    assert.equal(origin.latencyMs(), undefined)
    assert.equal(origin.directMs(2 * MiB, 4 * MiB, 4), 1_000)
  })

  it('reads of one size in parallel rounds, as a download makes them', () => {
    assert.equal(directReadMs(MiB, 100, MiB, 4 * MiB, 4), 1_100)
    assert.equal(directReadMs(17 * MiB, 100, MiB, 4 * MiB, 4), 2 * (100 + 4_000))
  })
})

describe('hedgeDue: a download held to Walrus alone\'s time', () => {
  // Walrus here: 200 ms latency, 4 MiB/s a read, 4 reads of 4 MiB at once; an 8 MiB blob alone takes 200 + 1,200 ms.
  const direct = (bytes: number): number => directReadMs(bytes, 200, 4 * MiB, 4 * MiB, 4)
  const judgement = (patch: Partial<HedgeJudgement>): HedgeJudgement => ({
    startedAt: 0, now: 0, size: 8 * MiB, remaining: 8 * MiB, chunks: 8, demandSince: 0, recentPeerBytes: 0, windowMs: 2_000, latencyMs: 200, directMs: direct, ...patch
  })
  const deadline = walrusDeadline(judgement({})) as number

  it('sets the deadline at Walrus alone plus the larger of a share of it and one latency', () => {
    assert.equal(hedgeMarginMs(1_400, 200), 200)
    assert.equal(hedgeMarginMs(100_000, 200), 10_000)
    assert.equal(deadline, 1_400 + 200)
  })

  it('leaves a silent holder until the last moment a read of the rest still ends by the deadline, then hedges', () => {
    const last = deadline - direct(8 * MiB)
    assert.equal(hedgeDue(judgement({ now: last - 1 })), false)
    assert.equal(hedgeDue(judgement({ now: last })), true)
  })

  it('hedges a slow holder only once its pace would end after the deadline and a read of the rest no longer ends before it', () => {
    // 1 MiB in 300 ms: at that pace the other 7 MiB end at 2.4 s, after the deadline, but a read of them would still end by it.
    assert.equal(hedgeDue(judgement({ now: 300, remaining: 7 * MiB, recentPeerBytes: MiB })), false, 'not yet the last moment')
    // 2 MiB in 500 ms: the other 6 MiB end at 2 s; a read of them, begun now, at 1.7 s.
    assert.equal(hedgeDue(judgement({ now: 500, remaining: 6 * MiB, recentPeerBytes: 2 * MiB })), true)
    // 6 MiB in 1,400 ms: the last 2 MiB end at 1.87 s, after the deadline, but a read of them would end later still (2.1 s).
    assert.equal(hedgeDue(judgement({ now: 1_400, remaining: 2 * MiB, recentPeerBytes: 6 * MiB })), false)
  })

  it('never hedges a holder whose pace ends by the deadline', () => {
    // 7.75 MiB in 1,500 ms: the last 256 KiB end at about 1.55 s, by the deadline (1.6 s), though past the last moment for a read.
    assert.equal(hedgeDue(judgement({ now: 1_500, remaining: MiB / 4, recentPeerBytes: 7.75 * MiB })), false)
    assert.equal(hedgeDue(judgement({ now: 1_500, remaining: MiB / 4, recentPeerBytes: MiB })), true, 'the same at a seventh of the pace')
  })

  it('waits at least one peer round trip past Walrus alone, however fast Walrus is', () => {
    // Walrus on loopback: 1 ms latency, 1 GiB/s a read; Walrus alone for 1 MiB takes about 3 ms, a holder's first bytes 40 ms.
    const fast = (bytes: number): number => directReadMs(bytes, 1, 1024 * MiB, 4 * MiB, 4)
    const asked = judgement({ now: 20, size: MiB, remaining: MiB, latencyMs: 1, directMs: fast })
    assert.equal(hedgeDue(asked), true, 'without a round trip timed, past the deadline')
    assert.equal(hedgeDue({ ...asked, peerRoundTripMs: 40 }), false, 'the holder has not had a round trip yet')
    assert.equal(hedgeDue({ ...asked, now: 45, peerRoundTripMs: 40 }), true, 'a round trip and a read later, nothing came')
    assert.equal(hedgeMarginMs(3, 1, 40), 40)
  })

  it('counts no read of the chunk hashes in Walrus alone for a one-chunk blob, whose hash is its root', () => {
    assert.equal(walrusAloneMs(MiB, 1, 200, direct), direct(MiB))
    assert.equal(walrusAloneMs(MiB, 2, 200, direct), 200 + direct(MiB))
    assert.equal(walrusDeadline(judgement({ size: MiB, remaining: MiB, chunks: 1 })), direct(MiB) + 200)
  })

  it('does not hedge with no peer asked, nothing left, or no Walrus read timed', () => {
    assert.equal(hedgeDue(judgement({ now: 5_000, demandSince: undefined })), false)
    assert.equal(hedgeDue(judgement({ now: 5_000, remaining: 0 })), false)
    assert.equal(hedgeDue(judgement({ now: 5_000, directMs: () => undefined })), false)
  })
})
