import type { FastifyInstance } from 'fastify'
import { PAGE_HTML } from './html.js'
import { PAGE_ICON } from './icon.js'
import { PAGE_SCRIPT } from './script.js'
import { PAGE_CSS } from './style.js'

/** The page and its assets: public (they hold no data; the data comes from /status, which needs the token when one is set). */
export const PAGE_PATHS = ['/', '/page/app.js', '/page/style.css', '/page/icon.svg'] as const

/**
 * Only the node's own scripts, styles and data: no inline script, no other
 * origin, no framing (clickjacking), no referrer.
 */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const ASSETS: Record<(typeof PAGE_PATHS)[number], { type: string, body: string }> = {
  '/': { type: 'text/html; charset=utf-8', body: PAGE_HTML },
  '/page/app.js': { type: 'text/javascript; charset=utf-8', body: PAGE_SCRIPT },
  '/page/style.css': { type: 'text/css; charset=utf-8', body: PAGE_CSS },
  '/page/icon.svg': { type: 'image/svg+xml', body: PAGE_ICON }
}

/** The status page at GET /, served by the node itself: see docs/operating.md. */
export function registerStatusPage (app: FastifyInstance): void {
  for (const path of PAGE_PATHS) {
    const asset = ASSETS[path]
    app.get(path, async (_request, reply) => reply
      .type(asset.type)
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache')
      .send(asset.body))
  }
}
