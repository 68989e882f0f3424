/** Sizes and speeds as an operator reads them: binary units, three significant digits. */
export function formatBytes (bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${value} B` : `${value.toPrecision(3)} ${units[unit]}`
}

export function formatSpeed (bytes: number, ms: number): string {
  if (ms <= 0) return '-'
  return `${formatBytes(Math.round(bytes / (ms / 1000)))}/s`
}

export function formatPercent (part: number, whole: number): string {
  return whole > 0 ? `${(100 * part / whole).toFixed(1)}%` : '-'
}

/** A peer or blob ID cut to something a line can hold and a person can still tell apart. */
export function shortId (id: string): string {
  return id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id
}
