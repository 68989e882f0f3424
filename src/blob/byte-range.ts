/** An inclusive byte range, as HTTP writes it. */
export interface ByteRange {
  start: number
  end: number
}

/** How a Range header wrote its range: `START-END`, `START-` or `-SUFFIX`. Walrus's aggregator takes only `closed`. */
export type RangeForm = 'closed' | 'open' | 'suffix'

export class RangeNotSatisfiableError extends Error {
  override readonly name = 'RangeNotSatisfiableError'
}

/**
 * One range of a `Range: bytes=…` header against a blob of `size` bytes:
 * `START-END`, `START-` or `-SUFFIX`. Several ranges are refused, as Walrus's
 * aggregator refuses them. Undefined when there is no header.
 */
export function parseRange (header: string | undefined, size: number): (ByteRange & { form: RangeForm }) | undefined {
  if (header == null) return undefined
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (match == null) throw new RangeNotSatisfiableError(`Range "${header}" is not one range of the form bytes=START-END`)
  const [, first = '', last = ''] = match
  if (first === '' && last === '') throw new RangeNotSatisfiableError('Range has neither a start nor an end')
  let start: number
  let end: number
  const form: RangeForm = first === '' ? 'suffix' : last === '' ? 'open' : 'closed'
  if (first === '') {
    const suffix = Number(last)
    if (suffix === 0) throw new RangeNotSatisfiableError('a suffix range of 0 bytes selects nothing')
    start = Math.max(0, size - suffix)
    end = size - 1
  } else {
    start = Number(first)
    end = last === '' ? size - 1 : Math.min(Number(last), size - 1)
  }
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start > end || start >= size) {
    throw new RangeNotSatisfiableError(`Range ${header} is outside a blob of ${size} bytes`)
  }
  return { start, end, form }
}
