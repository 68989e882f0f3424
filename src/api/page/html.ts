/**
 * The status page's markup. Everything it loads comes from the node itself
 * (same origin, no CDN), so it works offline and under a strict CSP.
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>herd node</title>
<link rel="icon" href="/page/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/page/style.css">
<script src="/page/app.js" defer></script>
</head>
<body>
<header>
  <h1><img src="/page/icon.svg" alt="" width="22" height="22"> herd <span id="network" class="tag">…</span></h1>
  <div class="ident"><span>peer</span> <code id="peer-id">…</code> <span>address</span> <code id="address">…</code></div>
  <div id="state" class="state">connecting…</div>
</header>
<form id="token-form" hidden>
  <label for="token">This node's API needs its token</label>
  <input id="token" type="password" autocomplete="off" spellcheck="false" placeholder="API token">
  <button type="submit">Connect</button>
  <p class="hint">Kept in this tab only (sessionStorage). A link ending in <code>#token=…</code> fills it in without sending it to any server.</p>
</form>
<main>
  <section class="cards">
    <div class="card"><h2>Peers</h2><div class="big" id="peers">–</div><div class="sub" id="gossip">–</div></div>
    <div class="card wide"><h2>Cache</h2>
      <div class="meter"><div id="cache-bar"></div></div>
      <div class="sub"><span id="cache-used">–</span> of <span id="cache-quota">–</span> · <span id="cache-blobs">–</span> blobs · <span id="cache-pinned">–</span> pinned · <span id="cache-evictions">–</span> evicted</div>
    </div>
    <div class="card wide"><h2>Hits by source</h2>
      <table class="kv"><tr><th><i class="dot local"></i>local</th><td id="hits-local">–</td><td id="hits-local-pct" class="pct"></td></tr>
      <tr><th><i class="dot peer"></i>peers</th><td id="hits-peer">–</td><td id="hits-peer-pct" class="pct"></td></tr>
      <tr><th><i class="dot walrus"></i>Walrus</th><td id="hits-walrus">–</td><td id="hits-walrus-pct" class="pct"></td></tr></table>
      <div class="sub">bytes: <span id="bytes-peer">–</span> from peers · <span id="bytes-walrus">–</span> from Walrus · <span id="bytes-served">–</span> served</div>
    </div>
  </section>
  <section class="charts">
    <figure><figcaption>Cache hits by source, per 10 s <span class="legend"><i class="dot local"></i>local <i class="dot peer"></i>peers <i class="dot walrus"></i>Walrus</span></figcaption><svg id="hits-chart" viewBox="0 0 600 160" role="img" aria-label="cache hits by source"></svg></figure>
    <figure><figcaption>Throughput <span class="legend"><i class="dot peer"></i>from peers <i class="dot walrus"></i>from Walrus <i class="dot served"></i>served to peers</span></figcaption><svg id="throughput-chart" viewBox="0 0 600 160" role="img" aria-label="throughput"></svg></figure>
  </section>
  <section class="cards">
    <div class="card"><h2>Inference</h2>
      <table class="kv"><tr><th>runs</th><td id="inference-runs">–</td></tr><tr><th>forwarded</th><td id="inference-forwarded">–</td></tr>
      <tr><th>model fetched first</th><td id="inference-fetched">–</td></tr><tr><th>failed (busy)</th><td id="inference-failed">–</td></tr>
      <tr><th>queue</th><td id="inference-queue">–</td></tr><tr><th>sessions</th><td id="inference-sessions">–</td></tr></table>
    </div>
    <div class="card"><h2>Proofs</h2>
      <table class="kv"><tr><th>queued</th><td id="proofs-queued">–</td></tr><tr><th>sealed</th><td id="proofs-sealed">–</td></tr>
      <tr><th>anchored bundles</th><td id="proofs-bundles">–</td></tr><tr><th>being written</th><td id="proofs-writing">–</td></tr><tr><th>set aside</th><td id="proofs-aside">–</td></tr>
      <tr><th>refused bundles</th><td id="proofs-refused">–</td></tr><tr><th>last seal</th><td id="proofs-last">–</td></tr>
      <tr><th>next seal at the latest</th><td id="proofs-next">–</td></tr></table>
      <div class="warn" id="proofs-error" hidden></div>
    </div>
    <div class="card"><h2>Funds</h2>
      <table class="kv"><tr><th>SUI</th><td id="funds-sui">–</td></tr><tr><th>WAL</th><td id="funds-wal">–</td></tr><tr><th>writes waiting</th><td id="funds-blocked">–</td></tr></table>
      <div class="sub" id="funds-note"></div>
    </div>
    <div class="card"><h2>Kept on Walrus</h2>
      <table class="kv"><tr><th>blobs kept</th><td id="storage-kept">–</td></tr><tr><th>renewed</th><td id="storage-renewed">–</td></tr>
      <tr><th>failing</th><td id="storage-failing">–</td></tr><tr><th>ending within an epoch</th><td id="storage-expiring">–</td></tr>
      <tr><th>lost</th><td id="storage-lost">–</td></tr><tr><th>epoch</th><td id="storage-epoch">–</td></tr></table>
      <div class="warn" id="storage-error" hidden></div>
    </div>
  </section>
  <section>
    <h2>Downloads</h2>
    <table class="list"><thead><tr><th>blob</th><th>size</th><th>progress</th></tr></thead><tbody id="downloads"></tbody></table>
    <p class="empty" id="downloads-empty">No download in progress.</p>
  </section>
  <section>
    <h2>Cached blobs <span class="sub">(most recently used)</span></h2>
    <table class="list"><thead><tr><th>blob</th><th>size</th><th>hits</th><th>pinned</th><th>last used</th></tr></thead><tbody id="blobs"></tbody></table>
    <p class="empty" id="blobs-empty">The cache is empty.</p>
  </section>
  <section>
    <h2>Penalized peers</h2>
    <table class="list"><thead><tr><th>peer</th><th>score</th><th>bad chunks</th><th>failures</th><th>banned</th><th>reason</th></tr></thead><tbody id="penalized"></tbody></table>
    <p class="empty" id="penalized-empty">None.</p>
  </section>
</main>
<footer><span id="walrus"></span> · <span id="ledger"></span> · <span id="listen"></span></footer>
</body>
</html>
`
