// The edge-to-cloud sync contract in one import: wire types and limits, the
// batch id, signing, pseudonyms, encoding and validation.
export * from './wire.js';
export * from './batchId.js';
export * from './signature.js';
export * from './pseudonym.js';
export * from './codec.js';
export * from './validate.js';
export * from './request.js';
export * from './verify.js';
