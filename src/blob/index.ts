export * from './blob-id.js'
export * from './blob-id-computer.js'
export * from './chunk-tree.js'
export * from './errors.js'
