export { DEFAULT_MAX_CONCURRENT_PUSHES, startPubsubEmulator, type PubsubEmulator, type PubsubEmulatorOptions } from './emulator.js';
export { OFFICIAL_EMULATOR_BIN, officialEmulatorInstalled, startOfficialEmulator, type OfficialEmulator } from './official-emulator.js';
export { wrappedPushBody, type WrappedPushBody } from './push-body.js';
export { FAULTS_PATH, type PubsubFaults, type PubsubFaultSettings } from './faults.js';
export { PUSH_ACK_STATUSES } from './push.js';
export type { SubscriptionStats } from './subscription.js';
