import type ort from 'onnxruntime-node'
import type { DenseLayer } from './dense-layers.js'
import { RunTooLargeError } from './errors.js'
import type { TensorSpec } from './model-signature.js'

const MIB = 1024 * 1024

/**
 * Bytes of working memory per byte of a run's inputs and outputs, from PaddleOCR detection (a
 * convolutional net) at 1280×1280: RSS peaked 250 MB above its start for 26 MB of input and output.
 */
export const IO_FACTOR = 10
/** A dense layer's input and output are alive together while it runs. */
export const LIVE_DENSE_ACTIVATIONS = 2

const ELEMENT_BYTES: Record<string, number> = {
  float64: 8, int64: 8, uint64: 8, float32: 4, int32: 4, uint32: 4, float16: 2, int16: 2, uint16: 2, int8: 1, uint8: 1, bool: 1,
  // onnxruntime keeps a std::string per element: its header alone is 32 bytes.
  string: 32
}

/** What the estimate needs of a model: its declared inputs and outputs, and its dense layers. */
export interface RunProfile {
  inputs: readonly TensorSpec[]
  outputs: readonly TensorSpec[]
  dense: readonly DenseLayer[]
}

export interface RunEstimate {
  bytes: number
  inputBytes: number
  outputBytes: number
  /** Hidden activations of the dense layers. */
  denseBytes: number
}

/** A symbolic dimension with a name; an unnamed one (-1 or empty, as onnxruntime reports it) binds nothing. */
function isNamed (d: number | string): d is string {
  return typeof d === 'string' && d !== '' && d !== '-1'
}

function elementBytes (type: string): number {
  return ELEMENT_BYTES[type] ?? 8
}

/**
 * The memory a run on `inputs` is expected to take, before it runs. Outputs take their declared
 * shapes with each symbolic dimension bound by the input that names it; the dimensions no input
 * binds are together taken as large as the largest product of one input's symbolic dimensions
 * (PaddleOCR detection: [n, 3, h, w] in, [n', 1, h', w'] out, counted as n·h·w). A dense layer holds rows × its width, the
 * rows being those of the input whose last dimension feeds it; the widest layer counts, with its
 * input. Everything else (convolutions, attention) is covered by IO_FACTOR × the inputs and outputs.
 */
export function estimateRun (inputs: Readonly<Record<string, ort.Tensor>>, profile: RunProfile): RunEstimate {
  // Plain loops, and nothing allocated but the symbol map: this runs before every run (~3 µs on an
  // inference thread between runs, its caches cold; array helpers and closures made it slower).
  const bound = new Map<string, number>()
  let inputBytes = 0
  /** The largest product of one input's symbolic dimensions. */
  let largestDynamic = 0
  let rows = 0
  for (const spec of profile.inputs) {
    const tensor = inputs[spec.name]
    if (tensor == null) continue
    const dims = tensor.dims
    let elements = 1
    let dynamic = 1
    for (let axis = 0; axis < dims.length; axis++) {
      const size = dims[axis] as number
      const declared = spec.shape[axis]
      elements *= size
      if (typeof declared === 'string') {
        dynamic *= size
        if (isNamed(declared)) bound.set(declared, size)
      }
    }
    inputBytes += elements * elementBytes(tensor.type)
    largestDynamic = Math.max(largestDynamic, dynamic)
    const last = dims[dims.length - 1]
    if (last != null && last > 0 && feedsDense(profile.dense, last)) rows = Math.max(rows, elements / last)
  }
  let outputBytes = 0
  for (const spec of profile.outputs) {
    let known = 1
    let unbound = false
    for (const declared of spec.shape) {
      const size = typeof declared === 'number' ? declared : isNamed(declared) ? bound.get(declared) : undefined
      if (size == null) unbound = true
      else known *= size
    }
    outputBytes += (unbound ? known * largestDynamic : known) * elementBytes(spec.type)
  }
  let widest = 0
  for (const layer of profile.dense) widest = Math.max(widest, layer.outputWidth)
  const denseBytes = LIVE_DENSE_ACTIVATIONS * rows * widest * ELEMENT_BYTES.float32!
  return { bytes: runBytes(inputBytes, outputBytes, denseBytes), inputBytes, outputBytes, denseBytes }
}

/** A run's memory from its parts: the tensors with their working copies, and the dense layers' activations. */
function runBytes (inputBytes: number, outputBytes: number, denseBytes: number): number {
  return IO_FACTOR * (inputBytes + outputBytes) + denseBytes
}

/**
 * The memory a finished run is taken to have used: `estimate` with the outputs' real sizes. An output
 * dimension no input binds was guessed before the run, often far too large (PaddleOCR recognition's
 * [n, 40, 6625] out, 1 MB, was guessed at 8.5 MB, 87 MB with IO_FACTOR), and a session is released after
 * a run past releaseAfterRunBytes: judged on the guess, its session was loaded again for every run.
 */
export function observedRunBytes (estimate: RunEstimate, outputs: Readonly<Record<string, ort.Tensor>>): number {
  let outputBytes = 0
  for (const name in outputs) {
    const tensor = outputs[name] as ort.Tensor
    outputBytes += tensor.size * elementBytes(tensor.type)
  }
  return runBytes(estimate.inputBytes, outputBytes, estimate.denseBytes)
}

function feedsDense (dense: readonly DenseLayer[], width: number): boolean {
  for (const layer of dense) if (layer.inputWidth === width) return true
  return false
}

/** Throws RunTooLargeError when a run on `inputs` is expected to take more than `maxBytes`. */
export function checkRun (inputs: Readonly<Record<string, ort.Tensor>>, profile: RunProfile, maxBytes: number): RunEstimate {
  const estimate = estimateRun(inputs, profile)
  if (estimate.bytes > maxBytes) {
    const dims = Object.entries(inputs).map(([name, t]) => `${name} [${t.dims.join(', ')}]`).join(', ')
    throw new RunTooLargeError(estimate.bytes, maxBytes,
      `a run on ${dims} would need about ${mib(estimate.bytes)} MiB (inputs ${mib(estimate.inputBytes)}, outputs ${mib(estimate.outputBytes)}, ` +
      `dense layers ${mib(estimate.denseBytes)}), more than this node allows one run (${mib(maxBytes)} MiB): send fewer rows per request`)
  }
  return estimate
}

function mib (bytes: number): string {
  return (bytes / MIB).toFixed(bytes < MIB ? 2 : 0)
}
