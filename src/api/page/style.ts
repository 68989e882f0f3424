/** The status page's stylesheet; light and dark follow the system. */
export const PAGE_CSS = `:root { --bg: #f8fafc; --fg: #0f172a; --muted: #64748b; --card: #fff; --line: #e2e8f0; --local: #3b82f6; --peer: #10b981; --walrus: #f59e0b; --served: #8b5cf6; --warn: #b91c1c; color-scheme: light dark; }
@media (prefers-color-scheme: dark) { :root { --bg: #0b1120; --fg: #e2e8f0; --muted: #94a3b8; --card: #111827; --line: #1f2937; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: .5rem 1.5rem; padding: .8rem 1.2rem; border-bottom: 1px solid var(--line); background: var(--card); }
h1 { margin: 0; font-size: 1.3rem; display: flex; align-items: center; gap: .4rem; }
h2 { font-size: .8rem; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); margin: 0 0 .5rem; }
code { font: 12px ui-monospace, monospace; word-break: break-all; }
.ident span { color: var(--muted); margin-left: .5rem; }
.tag { font-size: .75rem; padding: .1rem .45rem; border-radius: 1rem; background: var(--line); }
.state { margin-left: auto; color: var(--muted); }
.state.error { color: var(--warn); }
main { padding: 1rem 1.2rem; display: grid; gap: 1rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 1rem; }
.card, figure, section > table { background: var(--card); border: 1px solid var(--line); border-radius: .5rem; }
.card { padding: .8rem 1rem; }
.card.wide { grid-column: span 2; }
.big { font-size: 2rem; font-weight: 600; }
.sub { color: var(--muted); font-size: .85rem; font-weight: normal; text-transform: none; letter-spacing: 0; }
.meter { height: .8rem; background: var(--line); border-radius: .4rem; overflow: hidden; margin: .4rem 0; }
.meter > div { height: 100%; width: 0; background: var(--local); }
.kv { border-collapse: collapse; width: 100%; }
.kv th { text-align: left; font-weight: normal; color: var(--muted); padding: .1rem 0; }
.kv td { text-align: right; font-variant-numeric: tabular-nums; }
.kv td.pct { width: 4rem; color: var(--muted); }
.dot { display: inline-block; width: .6rem; height: .6rem; border-radius: 50%; margin-right: .4rem; }
.dot.local { background: var(--local); } .dot.peer { background: var(--peer); } .dot.walrus { background: var(--walrus); } .dot.served { background: var(--served); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 1rem; }
figure { margin: 0; padding: .6rem .8rem; }
figcaption { font-size: .8rem; color: var(--muted); margin-bottom: .3rem; display: flex; flex-wrap: wrap; justify-content: space-between; gap: .5rem; }
.legend .dot { margin-left: .6rem; margin-right: .25rem; }
svg { width: 100%; height: auto; display: block; }
svg .axis { stroke: var(--line); }
svg text { fill: var(--muted); font-size: 10px; }
svg rect.local { fill: var(--local); } svg rect.peer { fill: var(--peer); } svg rect.walrus { fill: var(--walrus); }
svg polyline { fill: none; stroke-width: 2; }
svg polyline.peer { stroke: var(--peer); } svg polyline.walrus { stroke: var(--walrus); } svg polyline.served { stroke: var(--served); }
svg circle.peer { fill: var(--peer); } svg circle.walrus { fill: var(--walrus); } svg circle.served { fill: var(--served); }
table.list { width: 100%; border-collapse: collapse; }
table.list th, table.list td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); }
table.list th { font-weight: normal; color: var(--muted); font-size: .8rem; }
.progress { width: 12rem; height: .6rem; background: var(--line); border-radius: .3rem; overflow: hidden; display: inline-block; vertical-align: middle; margin-right: .4rem; }
.progress > div { height: 100%; background: var(--peer); }
.empty { color: var(--muted); margin: .3rem 0 0; }
.warn { color: var(--warn); font-size: .85rem; margin-top: .4rem; }
#token-form { margin: 1rem 1.2rem; padding: 1rem; border: 1px solid var(--warn); border-radius: .5rem; background: var(--card); display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
#token-form[hidden] { display: none; }
#token-form .hint { flex-basis: 100%; margin: 0; color: var(--muted); font-size: .85rem; }
footer { padding: .8rem 1.2rem; color: var(--muted); font-size: .8rem; }
`
