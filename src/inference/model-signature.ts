import ort from 'onnxruntime-node'

export class ModelFormatError extends Error {
  override name = 'ModelFormatError'
}

/** One input or output as the model declares it; a dimension is a size or a symbolic name. */
export interface TensorSpec {
  name: string
  type: string
  shape: Array<number | string>
}

export interface ModelSignature {
  format: 'onnx'
  inputs: TensorSpec[]
  outputs: TensorSpec[]
}

type ValueMetadata = { name: string, isTensor: boolean, type?: string, shape?: ReadonlyArray<number | string> }

export function toSpecs (metadata: readonly ValueMetadata[]): TensorSpec[] {
  return metadata.map(m => ({
    name: m.name,
    type: m.isTensor ? (m.type ?? 'unknown') : 'nontensor',
    shape: (m.shape ?? []).map(d => (typeof d === 'number' && d >= 0 ? d : String(d)))
  }))
}

/** Reads an ONNX model's inputs and outputs (names, types, shapes) with onnxruntime itself. */
export async function readOnnxSignature (path: string): Promise<ModelSignature> {
  let session: ort.InferenceSession
  try {
    session = await ort.InferenceSession.create(path, { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 })
  } catch (err) {
    throw new ModelFormatError(`${path} is not a model onnxruntime can load: ${(err as Error).message.split('\n')[0]}`)
  }
  try {
    const s = session as unknown as { inputMetadata: ValueMetadata[], outputMetadata: ValueMetadata[] }
    return { format: 'onnx', inputs: toSpecs(s.inputMetadata), outputs: toSpecs(s.outputMetadata) }
  } finally {
    await session.release()
  }
}
