export {
  createPublisher,
  PUBLISHER_DEFAULTS,
  PublishError,
  PublisherClosedError,
  PublisherOptionsError,
  type Publisher,
  type PublisherOptions,
  type PublisherRegistry,
  type PublishTarget,
  type TrackResult,
} from './publisher.js';
export type { FieldError, LogType, LogTypes } from '@strata/schemas';
