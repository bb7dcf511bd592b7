export * from './logger.js';
export * from './config.js';
export * from './shutdown.js';
export * from './oidc.js';
export * from './predicates.js';
export * from './http-errors.js';
export * from './storable.js';
export * from './ids.js';
