/**
 * The status page's script (plain browser JavaScript, served as is): polls
 * `/status` and draws it. Polling rather than server-sent events because an
 * EventSource cannot send the Authorization header a token-protected API
 * needs. The charts come from the differences between successive polls, so
 * they cover the time the page has been open (up to the last 10 minutes).
 */
export const PAGE_SCRIPT = String.raw`'use strict'
;(function () {
  var POLL_MS = 2000
  var BUCKET_MS = 10000
  var BUCKETS = 60
  var WINDOW_MS = BUCKETS * BUCKET_MS
  var TOKEN_KEY = 'herd-api-token'
  var SOURCES = ['local', 'peer', 'walrus']
  var FLOWS = ['peer', 'walrus', 'served']
  var SVG = 'http://www.w3.org/2000/svg'

  var previous = null
  var openedAt = Date.now()
  var hitBuckets = new Map()
  var rates = []
  var timer = null

  // A token in the URL fragment (never sent to a server) is kept for this tab and taken out of the address bar.
  var fragment = new URLSearchParams(location.hash.slice(1))
  if (fragment.has('token')) {
    sessionStorage.setItem(TOKEN_KEY, fragment.get('token'))
    history.replaceState(null, '', location.pathname + location.search)
  }

  function $ (id) { return document.getElementById(id) }
  function text (id, value) { var el = $(id); if (el != null) el.textContent = String(value) }

  function bytes (n) {
    if (!isFinite(n)) return '–'
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
    var i = 0
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
    return (i === 0 ? String(Math.round(n)) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)) + ' ' + units[i]
  }
  function ago (ms) {
    if (ms == null) return '–'
    var s = Math.max(0, Math.round((Date.now() - ms) / 1000))
    if (s < 60) return s + ' s ago'
    if (s < 3600) return Math.round(s / 60) + ' min ago'
    return Math.round(s / 3600) + ' h ago'
  }
  function until (ms) {
    var s = Math.max(0, Math.round((ms - Date.now()) / 1000))
    if (s < 60) return 'in ' + s + ' s'
    if (s < 3600) return 'in ' + Math.round(s / 60) + ' min'
    return 'in ' + Math.round(s / 3600) + ' h'
  }
  function coins (raw) { return raw == null ? '–' : (Number(raw) / 1e9).toFixed(3) }
  function shortId (id) { return id.length > 16 ? id.slice(0, 8) + '…' + id.slice(-6) : id }

  function showState (message, error) {
    var el = $('state')
    el.textContent = message
    el.className = error ? 'state error' : 'state'
  }

  function poll () {
    var headers = { accept: 'application/json' }
    var token = sessionStorage.getItem(TOKEN_KEY)
    if (token) headers.authorization = 'Bearer ' + token
    fetch('/status', { headers: headers, cache: 'no-store' }).then(function (response) {
      if (response.status === 401) {
        $('token-form').hidden = false
        showState(token ? 'the token was refused' : 'this API needs a token', true)
        return null
      }
      if (!response.ok) throw new Error('/status answered ' + response.status)
      $('token-form').hidden = true
      return response.json()
    }).then(function (status) {
      if (status == null) return
      render(status, Date.now())
      showState('live · updated ' + new Date().toLocaleTimeString(), false)
      schedule()
    }).catch(function (err) {
      showState('cannot reach the node: ' + err.message, true)
      schedule()
    })
  }
  function schedule () { clearTimeout(timer); timer = setTimeout(poll, POLL_MS) }

  $('token-form').addEventListener('submit', function (event) {
    event.preventDefault()
    sessionStorage.setItem(TOKEN_KEY, $('token').value.trim())
    $('token').value = ''
    poll()
  })

  function counters (status) {
    return {
      local: status.fetch.localHits, peer: status.fetch.peerHits, walrus: status.fetch.walrusHits,
      bytesPeer: status.fetch.bytesFromPeers, bytesWalrus: status.fetch.bytesFromWalrus, bytesServed: status.serve.bytesServed
    }
  }

  function record (now, current) {
    if (previous != null) {
      var seconds = (now - previous.at) / 1000
      var key = Math.floor(now / BUCKET_MS)
      var bucket = hitBuckets.get(key) || { local: 0, peer: 0, walrus: 0 }
      // A counter that went down is a restarted node: its new value is what happened since.
      SOURCES.forEach(function (s) { var d = current[s] - previous.counts[s]; bucket[s] += d >= 0 ? d : current[s] })
      hitBuckets.set(key, bucket)
      var rate = function (name) { var d = current[name] - previous.counts[name]; return Math.max(0, d) / seconds }
      rates.push({ at: now, peer: rate('bytesPeer'), walrus: rate('bytesWalrus'), served: rate('bytesServed') })
    }
    previous = { at: now, counts: current }
    var oldest = Math.floor((now - WINDOW_MS) / BUCKET_MS)
    hitBuckets.forEach(function (_, key) { if (key <= oldest) hitBuckets.delete(key) })
    while (rates.length > 0 && rates[0].at < now - WINDOW_MS) rates.shift()
  }

  function render (s, now) {
    var current = counters(s)
    record(now, current)
    text('network', s.network)
    text('peer-id', s.peerId)
    text('address', s.address)
    text('peers', s.peers)
    text('gossip', s.gossip.knownBlobs + ' blobs known from gossip')
    text('cache-used', bytes(s.cache.bytes))
    text('cache-quota', bytes(s.cache.quotaBytes))
    text('cache-blobs', s.cache.blobs)
    text('cache-pinned', s.cache.pinned)
    text('cache-evictions', s.cache.evictions)
    $('cache-bar').style.width = Math.min(100, s.cache.quotaBytes > 0 ? 100 * s.cache.bytes / s.cache.quotaBytes : 0).toFixed(1) + '%'
    var hits = current.local + current.peer + current.walrus
    SOURCES.forEach(function (source) {
      text('hits-' + source, current[source])
      text('hits-' + source + '-pct', hits > 0 ? Math.round(100 * current[source] / hits) + '%' : '')
    })
    text('bytes-peer', bytes(current.bytesPeer))
    text('bytes-walrus', bytes(current.bytesWalrus))
    text('bytes-served', bytes(current.bytesServed))

    var inf = s.inference
    text('inference-runs', inf.runs)
    text('inference-forwarded', inf.forwarded)
    text('inference-fetched', inf.fetched)
    text('inference-failed', inf.failed + ' (' + inf.busy + ')')
    text('inference-queue', inf.queue)
    text('inference-sessions', inf.sessions + ' · ' + bytes(inf.sessionBytes) + ' · ' + inf.sessionLoads + ' loaded')

    var p = s.proofs
    text('proofs-queued', p.enabled ? p.queued + ' · ' + bytes(p.queuedBytes) : 'off')
    text('proofs-sealed', p.sealed)
    text('proofs-bundles', p.bundles)
    text('proofs-writing', p.writing != null ? p.writing + ' of at most ' + p.writesAtOnce + ' at once' : '–')
    text('proofs-aside', p.setAside)
    text('proofs-refused', p.refused)
    text('proofs-last', p.lastSealAt != null ? ago(p.lastSealAt) : '–')
    text('proofs-next', p.nextSealAt != null ? until(p.nextSealAt) : '–')
    var problem = p.retrying ? 'retrying: ' + (p.lastError || '') : ''
    $('proofs-error').hidden = problem === ''
    text('proofs-error', problem)

    text('funds-sui', coins(s.funds.sui))
    text('funds-wal', coins(s.funds.wal))
    text('funds-blocked', s.funds.blocked.length)
    text('funds-note', s.funds.blocked.length > 0 ? 'fund ' + s.funds.address + ': ' + s.funds.blocked[0].error : (s.funds.sui == null ? 'no balances on the ' + s.network : ''))

    var st = s.storage
    text('storage-kept', st.active)
    text('storage-renewed', st.renewed)
    text('storage-failing', st.failing)
    text('storage-expiring', st.expiringSoon)
    text('storage-lost', st.expired)
    text('storage-epoch', st.epoch != null ? st.epoch : '–')
    var storageProblem = st.expired > 0 ? st.expired + ' blob(s) LOST: their end epoch passed' : (st.ceilingReached ? 'spending ceiling reached: renewals wait for the next epoch' : (st.failing > 0 ? (st.lastError || 'a renewal failed') : ''))
    $('storage-error').hidden = storageProblem === ''
    text('storage-error', storageProblem)

    rows('downloads', s.cache.downloads, function (d) {
      var done = d.chunks > 0 ? d.held / d.chunks : 0
      var bar = el('span', 'progress', [el('div')])
      bar.firstChild.style.width = (100 * done).toFixed(1) + '%'
      var progress = el('td', null, [bar, document.createTextNode(Math.round(100 * done) + '% (' + d.held + '/' + d.chunks + ' chunks)')])
      var active = s.fetch.active.indexOf(d.blobId) >= 0 ? '' : ' (paused)'
      return [cell(shortId(d.blobId) + active, d.blobId), cell(bytes(d.size)), progress]
    }, function (d) { return d.blobId })
    rows('blobs', s.cache.recent, function (b) {
      return [cell(shortId(b.blobId), b.blobId), cell(bytes(b.size)), cell(b.hits), cell(b.pinned ? 'yes' : ''), cell(ago(b.lastAccessAt))]
    }, function (b) { return b.blobId })
    rows('penalized', s.penalizedPeers, function (q) {
      return [cell(shortId(q.peerId), q.peerId), cell(q.score.toFixed(1)), cell(q.badChunks), cell(q.failures), cell(q.banned ? 'yes' : ''), cell(q.reason || '')]
    }, function (q) { return q.peerId })

    text('walrus', 'Walrus ' + (s.walrus.aggregator || '–') + (s.walrus.embedded ? ' (embedded)' : ''))
    text('ledger', 'ledger ' + s.ledger.kind + (s.ledger.url ? ' ' + s.ledger.url : ''))
    text('listen', s.multiaddrs.join(' '))
    drawHits(now)
    drawRates(now)
  }

  function el (tag, className, children) {
    var node = document.createElement(tag)
    if (className) node.className = className
    ;(children || []).forEach(function (c) { node.appendChild(c) })
    return node
  }
  function cell (value, title) {
    var td = el('td')
    td.textContent = String(value)
    if (title) td.title = title
    return td
  }
  function rows (id, items, cells, key) {
    var body = $(id)
    body.replaceChildren.apply(body, items.map(function (item) {
      var tr = el('tr', null, cells(item))
      tr.dataset.id = key(item)
      return tr
    }))
    $(id + '-empty').hidden = items.length > 0
  }

  function svgEl (tag, attrs) {
    var node = document.createElementNS(SVG, tag)
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, String(attrs[k])) })
    return node
  }
  var W = 600, H = 160, LEFT = 64, BOTTOM = 18, TOP = 8
  // The charts cover the time the page has been open, from one minute up to WINDOW_MS.
  function span (now) { return Math.min(WINDOW_MS, Math.max(60000, now - openedAt)) }
  function frame (svg, max, label, now) {
    svg.replaceChildren()
    svg.appendChild(svgEl('line', { class: 'axis', x1: LEFT, y1: H - BOTTOM, x2: W, y2: H - BOTTOM }))
    svg.appendChild(svgEl('line', { class: 'axis', x1: LEFT, y1: TOP, x2: W, y2: TOP }))
    var top = svgEl('text', { x: LEFT - 4, y: TOP + 4, 'text-anchor': 'end' }); top.textContent = label(max); svg.appendChild(top)
    var zero = svgEl('text', { x: LEFT - 4, y: H - BOTTOM, 'text-anchor': 'end' }); zero.textContent = '0'; svg.appendChild(zero)
    var left = svgEl('text', { x: LEFT, y: H - 4 }); left.textContent = '−' + Math.round(span(now) / 60000) + ' min'; svg.appendChild(left)
    var right = svgEl('text', { x: W, y: H - 4, 'text-anchor': 'end' }); right.textContent = 'now'; svg.appendChild(right)
  }
  function x (at, now) { return LEFT + (W - LEFT) * (1 - (now - at) / span(now)) }
  function y (value, max) { return H - BOTTOM - (H - BOTTOM - TOP) * value / max }

  function drawHits (now) {
    var svg = $('hits-chart')
    var max = 1
    hitBuckets.forEach(function (b) { max = Math.max(max, b.local + b.peer + b.walrus) })
    frame(svg, max, function (m) { return String(m) }, now)
    var width = Math.max(1, (W - LEFT) * BUCKET_MS / span(now) - 2)
    var points = 0
    hitBuckets.forEach(function (b, key) {
      if ((key + 1) * BUCKET_MS < now - span(now)) return
      var base = 0
      SOURCES.forEach(function (source) {
        var n = b[source]
        if (n <= 0) return
        // A bucket starts at its left edge; the current one, not over yet, is cut at "now".
        var left = x(key * BUCKET_MS, now) + 1
        var rect = svgEl('rect', { class: source, x: left, y: y(base + n, max), width: Math.max(1, Math.min(width, W - left)), height: y(base, max) - y(base + n, max), 'data-source': source, 'data-count': n })
        var title = svgEl('title', {}); title.textContent = n + ' ' + source + ' hits'; rect.appendChild(title)
        svg.appendChild(rect)
        base += n
        points++
      })
    })
    svg.dataset.points = String(points)
  }

  function drawRates (now) {
    var svg = $('throughput-chart')
    var max = 1
    rates.forEach(function (r) { FLOWS.forEach(function (f) { max = Math.max(max, r[f]) }) })
    frame(svg, max, function (m) { return bytes(m) + '/s' }, now)
    FLOWS.forEach(function (flow) {
      var peak = rates.reduce(function (m, r) { return Math.max(m, r[flow]) }, 0)
      svg.appendChild(svgEl('polyline', { class: flow, points: rates.map(function (r) { return x(r.at, now).toFixed(1) + ',' + y(r[flow], max).toFixed(1) }).join(' '), 'data-flow': flow, 'data-peak': Math.round(peak) }))
      // The latest value as a dot: a line of one poll would not show.
      var last = rates[rates.length - 1]
      if (last != null) svg.appendChild(svgEl('circle', { class: flow, cx: x(last.at, now), cy: y(last[flow], max), r: 3 }))
    })
    svg.dataset.points = String(rates.length)
  }

  poll()
})()
`
