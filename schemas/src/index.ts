export * from './log-type.js';
export * from './bundled.js';
export * from './columns.js';
export * from './registry.js';
export * from './arrow.js';
export * from './lake.js';
export * from './timestamps.js';
