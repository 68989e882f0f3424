/** Draws Zipf(s) ranks (0 = most popular) over `n` ranks by binary search on the cumulative weights. */
export class ZipfSampler {
  private readonly cdf: Float64Array
  private readonly total: number

  constructor (n: number, s: number) {
    this.cdf = new Float64Array(n)
    let total = 0
    for (let r = 0; r < n; r++) {
      total += 1 / (r + 1) ** s
      this.cdf[r] = total
    }
    this.total = total
  }

  rank (u: number): number {
    const target = u * this.total
    let lo = 0
    let hi = this.cdf.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((this.cdf[mid] as number) < target) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}
