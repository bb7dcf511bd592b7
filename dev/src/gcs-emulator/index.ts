export { startGcsEmulator, type GcsEmulator, type GcsEmulatorOptions } from './server.js';
