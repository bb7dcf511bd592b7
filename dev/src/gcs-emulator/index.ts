import { requestFaults } from '../fault-admin.js';
import type { GcsFaults, GcsFaultState } from './faults.js';

export { startGcsEmulator, type GcsEmulator, type GcsEmulatorOptions } from './server.js';
export type { GcsFaultCounts, GcsFaults, GcsFaultSettings, GcsFaultState } from './faults.js';

/** Changes the named fault settings of the emulator at `url` (the others stay); answers the state after. */
export const setGcsFaults = (url: string, faults: GcsFaults) => requestFaults<GcsFaultState>(url, 'POST', faults);

/** The emulator's fault settings and the faults it injected so far. */
export const getGcsFaults = (url: string) => requestFaults<GcsFaultState>(url, 'GET');

/** Clears every fault (held requests are released); the counts stay. */
export const clearGcsFaults = (url: string) => requestFaults<GcsFaultState>(url, 'DELETE');
