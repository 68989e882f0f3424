/**
 * Eviction policies side by side: the scale model replays one trace with each
 * policy at each cache fraction of the sweep, with and without the mesh. The
 * trace is the run's own, so the policies see the same requests; a point is
 * what a separate run with that policy and quota would give.
 */
import type { PolicyName } from '../src/blob/cache/policy.js'
import { simulateScaleCache, sweepFractions, type ScaleOptions } from './scale.js'
import { withCacheFraction, withPolicy, type Scenario } from './scenario.js'
import type { PolicyPoint, Trace } from './types.js'

const STRATEGIES = ['mesh', 'noMesh'] as const

/** The policies to compare: the command line's, else the scenario's `sweep.policies`; none means no comparison. */
export function policiesToSweep (scenario: Scenario, fromFlag?: readonly PolicyName[]): PolicyName[] {
  return [...(fromFlag ?? scenario.sweep?.policies ?? [])]
}

/** Requests the sweep replays: the total of a progress bar. */
export function policySweepWork (scenario: Scenario, trace: Trace, policies: readonly PolicyName[]): number {
  return policies.length * sweepFractions(scenario).length * STRATEGIES.length * trace.requests.length
}

export function sweepPolicies (scenario: Scenario, trace: Trace, policies: readonly PolicyName[], options: ScaleOptions = {}): PolicyPoint[] {
  const requestedBytes = trace.requests.reduce((sum, r) => sum + (trace.models[r.model]?.sizeBytes ?? 0), 0)
  const points: PolicyPoint[] = []
  for (const policy of policies) {
    for (const x of sweepFractions(scenario)) {
      const at = withCacheFraction(withPolicy(scenario, policy), x)
      for (const strategy of STRATEGIES) {
        const { metrics, localHitBytes } = simulateScaleCache(at, trace, strategy, options)
        points.push({
          policy,
          strategy,
          x,
          byteHitRatio: requestedBytes === 0 ? 0 : localHitBytes / requestedBytes,
          hitRate: metrics.requests === 0 ? 0 : (metrics.localHits + metrics.peerHits) / metrics.requests,
          walrusBytes: metrics.walrusBytes
        })
      }
    }
  }
  return points
}
