import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { before, describe, it } from 'node:test'
import ort from 'onnxruntime-node'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { request } from 'undici'
import { ApiServer } from '../../src/api/server.js'
import type { BlobId } from '../../src/blob/blob-id.js'
import { syntheticMlp } from '../../sim/synthetic-model.js'
import { tensorsToJson } from '../../src/inference/tensor-codec.js'
import { meshForSuite, randomModel } from '../helpers/mesh.js'

/** Debian's chromium package: playwright's own browser downloads cannot reach their hosts here. */
const CHROMIUM = process.env.HERD_CHROMIUM ?? '/usr/bin/chromium'
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
/** Beside the build, so a test run leaves the work tree clean; HERD_UPDATE_DOCS_IMAGES=1 writes the one the docs show. */
const SCREENSHOT = fileURLToPath(new URL(process.env.HERD_UPDATE_DOCS_IMAGES === '1' ? '../../../docs/images/status-page.png' : '../../screenshots/status-page.png', import.meta.url))
const TOKEN = 'page-test-token-0123456789'
/** The page polls every 2 s; on a loaded machine a few polls may be slow. */
const PAGE_WAIT_MS = 20_000
/** The page's document, in functions run in the page (the project's TypeScript has no DOM types; strings would be eval, which the page's CSP forbids). */
interface PageDocument { getElementById: (id: string) => { textContent: string | null } | null }

function isLive (): boolean {
  const doc = (globalThis as unknown as { document: PageDocument }).document
  return doc.getElementById('state')?.textContent?.startsWith('live') === true
}

function showsFetchAndInference (): boolean {
  const doc = (globalThis as unknown as { document: PageDocument }).document
  const text = (id: string): string | null | undefined => doc.getElementById(id)?.textContent
  // Every receipt sealed: none due, so no next seal.
  return text('hits-walrus') === '2' && text('inference-runs') === '1' && text('proofs-sealed') === '1' && text('proofs-bundles') === '1' && text('proofs-writing') === '0 of at most 1 at once' && text('proofs-next') === '–'
}

/** Set when the browser tests cannot run. */
const NO_BROWSER = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set HERD_CHROMIUM): the status page was not tested in a browser`

describe('the status page', () => {
  let blobId: BlobId
  let slowBlobId: BlobId
  const mesh = meshForSuite({
    nodes: 1,
    overrides: { proofs: { batchSize: 1, intervalMs: 200 }, fetch: { requestBytes: 256 * 1024 } },
    setup: async ({ devnet }) => {
      blobId = (await devnet.publish(randomModel(2 * 1024 * 1024 + 11), { chunkSize: 256 * 1024 })).blobId
      slowBlobId = (await devnet.publish(randomModel(3 * 1024 * 1024), { chunkSize: 256 * 1024 })).blobId
      await devnet.publish(syntheticMlp({ inputSize: 16, hiddenSize: 32, outputSize: 4, layers: 2, seed: 3 }), { name: 'mlp', onnx: true })
    }
  })
  let api: ApiServer
  let browser: BrowserContext
  let page: Page
  const problems: string[] = []

  before(async () => {
    api = await mesh.startApi({ token: TOKEN })
    if (NO_BROWSER !== false) return
    browser = await chromium.launchPersistentContext(join(mesh.dir, 'chromium-profile'), { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, viewport: { width: 1280, height: 1100 } })
    mesh.defer(async () => browser.close())
    page = await browser.newPage()
    page.on('console', message => { if (message.type() === 'error') problems.push(`console: ${message.text()}`) })
    page.on('pageerror', err => { problems.push(`page error: ${err.message}`) })
    // No external assets: everything the page loads or calls is the node's own.
    page.on('request', req => { if (new URL(req.url()).origin !== api.url) problems.push(`request elsewhere: ${req.url()}`) })
  })

  it('is served without the token, under a CSP that allows only the node itself, and gives no data without it', async () => {
    for (const [path, type] of [['/', 'text/html'], ['/page/app.js', 'text/javascript'], ['/page/style.css', 'text/css'], ['/page/icon.svg', 'image/svg+xml']] as const) {
      const response = await request(`${api.url}${path}`)
      assert.equal(response.statusCode, 200, path)
      assert.ok(String(response.headers['content-type']).startsWith(type), `${path}: ${String(response.headers['content-type'])}`)
      assert.match(String(response.headers['content-security-policy']), /default-src 'none'; script-src 'self';/, path)
      assert.equal(response.headers['x-content-type-options'], 'nosniff')
      await response.body.dump()
    }
    const data = await request(`${api.url}/status`)
    assert.equal(data.statusCode, 401)
    assert.equal((await data.body.json() as any).error.name, 'UnauthorizedError')
    // The Host check still holds: a page on a name rebound to 127.0.0.1 does not get it.
    const rebound = await request(`${api.url}/`, { headers: { host: 'evil.example' } })
    assert.equal(rebound.statusCode, 403)
    assert.equal((await rebound.body.json() as any).error.name, 'ForbiddenHostError')
  })

  it('takes the token from the URL fragment and shows a fetch and an inference as they happen', { skip: NO_BROWSER }, async () => {
    await page.goto(`${api.url}/#token=${TOKEN}`)
    await page.waitForFunction(isLive, undefined, { timeout: PAGE_WAIT_MS })
    assert.equal(new URL(page.url()).hash, '', 'the token leaves the address bar')
    assert.equal(await page.locator('#token-form').isHidden(), true)
    assert.equal(await page.textContent('#peer-id'), mesh.node.peerId.toString())
    assert.equal(await page.textContent('#hits-walrus'), '0')

    const auth = { authorization: `Bearer ${TOKEN}` }
    const fetched = await request(`${api.url}/v1/blobs/${blobId}`, { headers: auth })
    assert.equal(fetched.statusCode, 200)
    await fetched.body.dump()
    const x = new ort.Tensor('float32', Float32Array.from({ length: 32 }, (_, i) => Math.cos(i)), [2, 16])
    const inferred = await request(`${api.url}/v1/infer`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'mlp', inputs: tensorsToJson({ x }) }) })
    assert.equal(inferred.statusCode, 200, await inferred.body.text())

    // The blob and then the model, both from Walrus; one run; its receipt sealed in a bundle of one.
    await page.waitForFunction(showsFetchAndInference, undefined, { timeout: PAGE_WAIT_MS })
    assert.equal(await page.textContent('#hits-walrus-pct'), '100%')
    assert.equal(await page.textContent('#peers'), '0')
    assert.match(await page.textContent('#cache-blobs') ?? '', /^2$/)
    // The bundle sealed is a blob the node keeps on Walrus: tracked before its anchor, so shown in the same poll.
    assert.equal(await page.textContent('#storage-kept'), '1')
    assert.equal(await page.textContent('#storage-lost'), '0')
    assert.equal(await page.locator('#storage-error').isHidden(), true)
    const row = page.locator(`#blobs tr[data-id="${blobId}"]`)
    assert.equal(await row.count(), 1, 'a row for the fetched blob')
    assert.equal(await row.locator('td').nth(1).textContent(), '2.00 MiB')

    // The charts: two Walrus hits among the bars, and Walrus bytes in the throughput line.
    const walrusBars = await page.$$eval('#hits-chart rect[data-source="walrus"]', rects => rects.reduce((n, r) => n + Number(r.getAttribute('data-count')), 0))
    assert.equal(walrusBars, 2)
    assert.equal(await page.locator('#hits-chart rect[data-source="peer"]').count(), 0)
    const peak = Number(await page.getAttribute('#throughput-chart polyline[data-flow="walrus"]', 'data-peak'))
    // 2 MiB came from Walrus between two polls, and no two polls are PAGE_WAIT_MS apart, or the waits above would have failed.
    assert.ok(peak >= 2 * 1024 * 1024 / (PAGE_WAIT_MS / 1000), `Walrus throughput peak ${peak} B/s`)
    // A few more polls, so the screenshot's throughput chart has a line rather than a dot.
    await page.waitForFunction(() => Number((globalThis as unknown as { document: { getElementById: (id: string) => { dataset: Record<string, string> } | null } }).document.getElementById('throughput-chart')?.dataset.points) >= 4, undefined, { timeout: PAGE_WAIT_MS })

    // A download slow enough to be seen in progress: twelve 256 KiB reads at 128 KiB/s each, four at a time, about 6 s.
    mesh.devnet.walrus.setShaping({ bandwidthBytesPerSec: 128 * 1024 })
    const slow = request(`${api.url}/v1/blobs/${slowBlobId}`, { headers: auth }).then(async response => { await response.body.dump(); return response.statusCode })
    const downloading = page.locator(`#downloads tr[data-id="${slowBlobId}"]`)
    await downloading.waitFor({ timeout: PAGE_WAIT_MS })
    assert.match(await downloading.locator('td').nth(2).textContent() ?? '', /^\d+% \(\d+\/12 chunks\)$/)
    assert.equal(await downloading.locator('td').nth(1).textContent(), '3.00 MiB')

    await mkdir(dirname(SCREENSHOT), { recursive: true })
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
    mesh.devnet.walrus.setShaping({ bandwidthBytesPerSec: 0 })
    assert.equal(await slow, 200)
    assert.deepEqual(problems, [], 'no script error, nothing the CSP blocked, no request beyond the node')
  })

  it('asks for the token when it has none, and goes live once given it', { skip: NO_BROWSER }, async () => {
    const fresh = await browser.newPage()
    try {
      await fresh.goto(`${api.url}/`)
      await fresh.locator('#token-form').waitFor({ state: 'visible', timeout: PAGE_WAIT_MS })
      assert.match(await fresh.textContent('#state') ?? '', /needs a token/)
      await fresh.fill('#token', TOKEN)
      await fresh.click('#token-form button')
      await fresh.waitForFunction(isLive, undefined, { timeout: PAGE_WAIT_MS })
      assert.equal(await fresh.locator('#token-form').isHidden(), true)
    } finally {
      await fresh.close()
    }
  })
})
