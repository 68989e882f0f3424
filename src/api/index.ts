export * from './range.js'
export * from './server.js'
