/**
 * Issue 19's goals for time to model, as checks on a report: with the mesh
 * never slower than Walrus alone (mesh p50, p95 and p99 at most no mesh's, in
 * the same run), and in live mode, scale mode's p95 for the mesh within 25%
 * of the live one. Written as data, so report.json and summary.md print the
 * same figures.
 */
import type { SimReport, StrategyMetrics } from './types.js'

/** Scale mode predicts the live tail when its mesh p95 is within this share of the live one. */
export const SCALE_P95_TOLERANCE = 0.25

export interface TailGoal {
  id: string
  /** What is compared, in words. */
  label: string
  /** The measured figure: mesh / no mesh, or how far scale is from live, over live. */
  value: number
  /** The goal: value at most this. */
  atMost: number
  met: boolean
}

interface TailCheck {
  id: string
  label: string
  atMost: number
  capture: (report: SimReport) => number | undefined
}

const ratio = (a: number, b: number): number | undefined => b > 0 ? a / b : undefined

const PERCENTILES = ['p50', 'p95', 'p99'] as const

const CHECKS: TailCheck[] = [
  ...PERCENTILES.map((p): TailCheck => ({
    id: `mesh-${p}-over-no-mesh`,
    label: `time to model ${p}: mesh / no mesh`,
    atMost: 1,
    capture: r => ratio(r.strategies.mesh.timeToModelMs[p], r.strategies.noMesh.timeToModelMs[p])
  })),
  {
    id: 'scale-p95-off-live',
    label: 'mesh time to model p95: how far scale is from live, over live',
    atMost: SCALE_P95_TOLERANCE,
    capture: r => {
      const scale: StrategyMetrics | undefined = r.scaleCheck?.mesh
      if (r.mode !== 'live' || scale == null) return undefined
      const live = r.strategies.mesh.timeToModelMs.p95
      return ratio(Math.abs(scale.timeToModelMs.p95 - live), live)
    }
  }
]

/** The goals a report can be judged on (none without both mesh and no mesh). */
export function tailGoals (report: SimReport): TailGoal[] {
  if (report.strategies.mesh == null || report.strategies.noMesh == null) return []
  const goals: TailGoal[] = []
  for (const check of CHECKS) {
    const value = check.capture(report)
    if (value == null) continue
    goals.push({ id: check.id, label: check.label, value, atMost: check.atMost, met: value <= check.atMost })
  }
  return goals
}
