// Writes a sample request log (the format of src/blob/cache/request-log.ts) from a seeded trace, as a node running aged LFU at the given quota would have logged it.
import { writeFile } from 'node:fs/promises'
import { createPolicy } from '../src/blob/cache/policy.js'
import { zipfTrace } from './policy-sim.js'
import { requestRecord, type RequestRecord } from '../src/blob/cache/request-log.js'
import { parseScriptArgs } from '../harness/script-args.js'

const MiB = 1024 * 1024

/** The sample: 200 blobs 1 MiB–1 GiB, Zipf 1.0, a tenth of them new each hour, one request every 10 s; misses from Walrus at 100 MiB/s after 300 ms. */
export function sampleRequestLog (requests: number, quotaShare: number, seed: number): { records: RequestRecord[], quotaBytes: number } {
  const trace = zipfTrace({ objects: 200, requests, zipf: 1.0, minSize: MiB, maxSize: 1024 * MiB, seed, versionEvery: 360, versionsReplaced: 3 })
  const quota = Math.floor(trace.catalogBytes * quotaShare)
  const policy = createPolicy('aged-lfu', { capacityBytes: quota })
  const sizes = new Map<string, number>()
  let used = 0
  const out: RequestRecord[] = []
  const start = Date.UTC(2026, 11, 1)
  for (let i = 0; i < trace.requests.length; i++) {
    const object = trace.requests[i] as number
    const blob = `sample${(trace.ids[object] as string).replace(/[^A-Za-z0-9]/g, '')}`
    const size = trace.sizes[object] as number
    const t = start + i * 10_000
    if (policy.has(blob)) {
      policy.hit(blob)
      out.push(requestRecord.parse({ t, blob, size, source: 'cache', hit: true, ms: 0 }))
      continue
    }
    out.push(requestRecord.parse({ t, blob, size, source: 'walrus', hit: false, ms: Math.round(300 + size / (100 * MiB) * 1000) }))
    if (size > quota) continue
    if (used + size > quota) {
      for (const victim of policy.victims(used + size - quota)) {
        used -= sizes.get(victim) ?? 0
        sizes.delete(victim)
        policy.evict(victim)
      }
    }
    policy.add(blob, size)
    sizes.set(blob, size)
    used += size
  }
  return { records: out, quotaBytes: quota }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const { values, refuse } = parseScriptArgs('sample-request-log', 'usage: node dist/sim/sample-request-log.js [--out FILE] [--requests 1..1000000] [--help]', {
    out: { type: 'string', default: 'sim/samples/request-log.jsonl' },
    requests: { type: 'string', default: '3000' }
  })
  const requests = Number(values.requests)
  if (!Number.isSafeInteger(requests) || requests <= 0 || requests > 1_000_000) refuse(`--requests takes an integer from 1 to 1,000,000, not ${JSON.stringify(values.requests)}`)
  await writeFile(values.out, sampleRequestLog(requests, 0.1, 16).records.map(r => JSON.stringify(r)).join('\n') + '\n')
}
