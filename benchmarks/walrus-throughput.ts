// Local Walrus put/get throughput next to a plain file copy of the same bytes, measured in the same run.
import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { BlobIdComputer } from '../src/blob/blob-id-computer.js'
import { WalrusHttpClient } from '../src/walrus/http-client.js'
import { LocalWalrus } from '../src/walrus/local/server.js'
import { parseScriptArgs } from '../harness/script-args.js'

const MiB = 1024 * 1024
const { values, refuse } = parseScriptArgs('walrus-throughput', 'usage: walrus-throughput [--mib 1..512] [--shards 1..65535] [--runs 1..20] [--help]', {
  mib: { type: 'string', default: '64' },
  shards: { type: 'string', default: '1000' },
  runs: { type: 'string', default: '3' }
})
const sizeMiB = Number(values.mib)
const nShards = Number(values.shards)
const runs = Number(values.runs)
if (!Number.isInteger(sizeMiB) || sizeMiB < 1 || sizeMiB > 512) refuse(`--mib takes an integer from 1 to 512, not ${JSON.stringify(values.mib)}`)
if (!Number.isInteger(nShards) || nShards < 1 || nShards > 65535) refuse(`--shards takes an integer from 1 to 65535, not ${JSON.stringify(values.shards)}`)
if (!Number.isInteger(runs) || runs < 1 || runs > 20) refuse(`--runs takes an integer from 1 to 20, not ${JSON.stringify(values.runs)}`)

async function timed (fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now()
  await fn()
  return (performance.now() - started) / 1000
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

const dir = await mkdtemp(join(tmpdir(), 'herd-bench-'))
const walrus = new LocalWalrus({ dir: join(dir, 'walrus'), nShards, maxBlobBytes: sizeMiB * MiB + 1 })
const computer = new BlobIdComputer({ nShards })
try {
  await walrus.start()
  const client = new WalrusHttpClient({ publisher: walrus.url, aggregator: walrus.url })
  const times = { copy: [] as number[], encode: [] as number[], put: [] as number[], get: [] as number[] }
  for (let run = 0; run < runs; run++) {
    // Fresh bytes each run, so every put is a new blob and not an alreadyCertified answer.
    const source = join(dir, `source-${run}`)
    const handle = await open(source, 'w')
    for (let i = 0; i < sizeMiB; i++) await handle.write(randomBytes(MiB))
    await handle.close()
    times.copy.push(await timed(async () => pipeline(createReadStream(source), createWriteStream(join(dir, `copy-${run}`), { flush: true }))))
    times.encode.push(await timed(async () => computer.computeFile(source)))
    let blobId = ''
    times.put.push(await timed(async () => { blobId = (await client.putFile(source)).blobId }))
    times.get.push(await timed(async () => client.getToFile(blobId, join(dir, `get-${run}`))))
    await rm(join(dir, `copy-${run}`))
    await rm(join(dir, `get-${run}`))
  }
  await client.close()
  const rate = (seconds: number): number => sizeMiB / seconds
  const copy = rate(median(times.copy))
  const rows = [
    ['file copy (baseline)', copy],
    ['blob ID encode only', rate(median(times.encode))],
    ['local Walrus put', rate(median(times.put))],
    ['local Walrus get', rate(median(times.get))]
  ] as const
  console.log(`local Walrus throughput: ${sizeMiB} MiB blob, ${nShards} shards, median of ${runs} runs`)
  console.log('| operation | MiB/s | ratio to file copy |')
  console.log('|---|---:|---:|')
  for (const [name, mibPerSec] of rows) console.log(`| ${name} | ${mibPerSec.toFixed(1)} | ${(mibPerSec / copy).toFixed(3)} |`)
} finally {
  await computer.stop()
  await walrus.stop()
  await rm(dir, { recursive: true, force: true })
}
