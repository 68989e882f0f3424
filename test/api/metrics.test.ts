import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { before, describe, it } from 'node:test'
import ort from 'onnxruntime-node'
import { request } from 'undici'
import { ApiServer } from '../../src/api/server.js'
import type { BlobId } from '../../src/blob/blob-id.js'
import { syntheticMlp } from '../../sim/synthetic-model.js'
import { tensorsToJson } from '../../src/inference/tensor-codec.js'
import { meshForSuite, randomModel, waitFor } from '../helpers/mesh.js'

const PROMTOOL = '/usr/bin/promtool'
const DEPLOY = fileURLToPath(new URL('../../../deploy/', import.meta.url))
const DOCS = fileURLToPath(new URL('../../../docs/', import.meta.url))

/**
 * libp2p's own lint findings, named one by one: gauges whose names end in
 * _total (docs/upstream/libp2p-metrics-total-gauges.md). Anything else
 * promtool says fails the test, herd's or libp2p's.
 */
const UPSTREAM_FINDINGS = new Set([
  'libp2p_kad_dht_operations_total',
  'libp2p_kad_dht_routing_table_kad_bucket_total',
  'libp2p_protocol_streams_total',
  'libp2p_tcp_inbound_connections_total',
  'libp2p_tcp_listener_errors_total',
  'libp2p_tcp_listener_events_total'
].map(name => `${name} non-counter metrics should not have "_total" suffix`))

async function promtool (args: string[], stdin = ''): Promise<{ code: number, output: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(PROMTOOL, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err != null && typeof err.code !== 'number') { reject(err); return }
      resolve({ code: typeof err?.code === 'number' ? err.code : 0, output: stdout + stderr })
    })
    child.stdin?.end(stdin)
  })
}

/** The value of one sample line, `name{labels} value`; undefined when absent. */
function sample (text: string, series: string): number | undefined {
  const line = text.split('\n').find(l => l.startsWith(`${series} `))
  return line == null ? undefined : Number(line.slice(series.length + 1))
}

describe('/metrics: what operators scrape', () => {
  let blobId: BlobId
  const mesh = meshForSuite({
    nodes: 1,
    overrides: { proofs: { batchSize: 2, intervalMs: 200 } },
    setup: async ({ devnet }) => {
      blobId = (await devnet.publish(randomModel(300 * 1024 + 5), { chunkSize: 64 * 1024 })).blobId
      await devnet.publish(syntheticMlp({ inputSize: 16, hiddenSize: 32, outputSize: 4, layers: 2, seed: 5 }), { name: 'mlp', onnx: true })
    }
  })
  let api: ApiServer

  before(async () => {
    api = await mesh.startApi()
    assert.equal((await request(`${api.url}/v1/blobs/${blobId}`, { method: 'GET' }).then(async r => { await r.body.dump(); return r.statusCode })), 200)
    for (let i = 0; i < 2; i++) {
      const x = new ort.Tensor('float32', Float32Array.from({ length: 16 }, (_, j) => Math.sin(i + j)), [1, 16])
      const response = await request(`${api.url}/v1/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'mlp', inputs: tensorsToJson({ x }) }) })
      assert.equal(response.statusCode, 200, await response.body.text())
      await response.body.dump()
    }
    await waitFor('both receipts to be sealed', () => mesh.node.status().proofs.sealed === 2, 30_000, 100)
  })

  it('reads the node status once per scrape', async () => {
    const node = mesh.node
    const status = node.status.bind(node)
    let reads = 0
    node.status = () => { reads++; return status() }
    try {
      for (let scrape = 1; scrape <= 3; scrape++) {
        const response = await request(`${api.url}/metrics`)
        assert.equal(response.statusCode, 200)
        await response.body.dump()
        assert.equal(reads, scrape, `${reads} status reads after ${scrape} scrapes`)
      }
    } finally {
      node.status = status
    }
  })

  it('has histograms in seconds of fetches, chunk requests, inference runs and waits, receipt appends and seals', async () => {
    const text = await (await request(`${api.url}/metrics`)).body.text()
    assert.ok(/^# TYPE herd_fetch_duration_seconds histogram$/m.test(text), 'herd_fetch_duration_seconds is a histogram')
    // The blob, then the model the first inference needed: both from Walrus, no peer being there.
    assert.equal(sample(text, 'herd_fetch_duration_seconds_count{source="walrus"}'), 2)
    assert.equal(sample(text, 'herd_fetch_duration_seconds_count{source="peer"}'), 0)
    // Reads of up to 4 MiB: the blob is one Walrus read, and the model one more.
    assert.equal(sample(text, 'herd_fetch_chunk_request_duration_seconds_count{source="walrus",outcome="ok"}'), 2)
    assert.equal(sample(text, 'herd_fetch_downloads_total{outcome="ok"}'), 2)
    assert.equal(sample(text, 'herd_inference_run_duration_seconds_count'), 2)
    assert.equal(sample(text, 'herd_inference_queue_wait_seconds_count'), 2)
    assert.equal(sample(text, 'herd_inference_requests_total{outcome="ran"}'), 2)
    // Two runs of one model: loaded on a thread, and perhaps on the event loop too if its run was short.
    const loads = sample(text, 'herd_inference_session_loads_total') ?? 0
    assert.ok(loads >= 1 && loads <= 2, `${loads} session loads for 2 runs of one model`)
    const appends = sample(text, 'herd_proof_receipt_append_duration_seconds_count') ?? 0
    assert.ok(appends >= 1 && appends <= 2, `${appends} appends of 2 receipts`)
    const seals = sample(text, 'herd_proof_seal_duration_seconds_count') ?? 0
    assert.equal(seals, sample(text, 'herd_proof_bundles_total{outcome="anchored"}'))
    assert.ok(seals >= 1)
    assert.equal(sample(text, 'herd_proof_receipts_sealed_total'), 2)
    assert.equal(sample(text, 'herd_proof_next_seal_timestamp_seconds'), 0, 'every receipt sealed: none due')
    // The cache had room for both downloads: no wait for it timed.
    assert.ok(/^# TYPE herd_cache_room_wait_seconds histogram$/m.test(text), 'herd_cache_room_wait_seconds is a histogram')
    assert.equal(sample(text, 'herd_cache_room_wait_seconds_count'), 0)
    // No upload pace by default, and so no wait on it.
    assert.equal(sample(text, 'herd_serve_pace_bytes_per_second'), 0)
    assert.equal(sample(text, 'herd_serve_pace_wait_seconds_total'), 0)
    assert.equal(sample(text, 'herd_serve_watches'), 0, 'no peer downloads what this node is downloading')
    // Bucket bounds are seconds: the largest fetch bucket is ten minutes, not 600 000 (milliseconds).
    assert.equal(sample(text, 'herd_fetch_duration_seconds_bucket{le="600",source="walrus"}'), 2)
  })

  it('passes promtool check metrics, but for libp2p\'s own findings, named', async t => {
    if (!existsSync(PROMTOOL)) {
      t.skip(`${PROMTOOL} is not installed (Debian's prometheus package): the metric names were not linted`)
      return
    }
    const text = await (await request(`${api.url}/metrics`)).body.text()
    const { output } = await promtool(['check', 'metrics'], text)
    const findings = output.split('\n').map(l => l.trim()).filter(l => l !== '')
    const ours = findings.filter(f => !UPSTREAM_FINDINGS.has(f))
    assert.deepEqual(ours, [], `promtool found:\n${ours.join('\n')}`)
    assert.equal(findings.filter(f => f.startsWith('herd_')).length, 0)
    // Reported, not hidden: each finding let through is in the upstream report, and the run says which it saw.
    const report = await readFile(join(DOCS, 'upstream/libp2p-metrics-total-gauges.md'), 'utf8')
    for (const finding of UPSTREAM_FINDINGS) assert.ok(report.includes(`\`${finding.split(' ')[0] ?? ''}\``), `${finding} is not in the upstream report`)
    t.diagnostic(`libp2p's own findings (docs/upstream/libp2p-metrics-total-gauges.md): ${findings.join('; ') || 'none'}`)
  })

  it('has every metric the Grafana dashboard queries, and a scrape example promtool accepts', async t => {
    const text = await (await request(`${api.url}/metrics`)).body.text()
    const families = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map(m => m[1]))
    const dashboard = JSON.parse(await readFile(join(DEPLOY, 'grafana/herd-dashboard.json'), 'utf8'))
    const queried = new Set<string>()
    for (const panel of dashboard.panels) {
      for (const target of panel.targets ?? []) {
        for (const [name] of String(target.expr).matchAll(/\bherd_[a-z_]+/g)) queried.add(name.replace(/_(bucket|count|sum)$/, ''))
      }
    }
    assert.ok(queried.size >= 20, `${queried.size} metrics queried`)
    assert.deepEqual([...queried].filter(name => !families.has(name)), [], 'queried by the dashboard but not exported')
    if (!existsSync(PROMTOOL)) {
      t.skip(`${PROMTOOL} is not installed: the scrape example was not checked`)
      return
    }
    // Syntax only: the example names the token file a real install has, not this machine.
    const config = await promtool(['check', 'config', '--syntax-only', join(DEPLOY, 'prometheus/prometheus.yml')])
    assert.equal(config.code, 0, config.output)
  })
})
