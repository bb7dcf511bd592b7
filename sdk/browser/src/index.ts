/**
 * @strata/browser: the script publishers and shops embed. `init` once, then `track`, `page`,
 * `observeImpressions` and (on a page embedding our widget) `observeFrames`. Built to one ES module
 * and one script-tag bundle whose global is `Strata` (build.ts); no runtime dependencies.
 *
 * The module-level functions drive one client per page, which is what a script tag can offer;
 * `createClient` gives an independent one (two keys on one page, tests).
 */
import { createClient, type Client, type StrataOptions, type TrackEvent } from './client.js';
import type { ElementTarget, Observation } from './elements.js';
import type { ImpressionOptions } from './impressions.js';
import type { LogType } from '@strata/schemas/types';

export { createClient, StrataOptionsError, type Client, type StrataOptions, type TrackEvent } from './client.js';
export { ImpressionOptionsError, type ImpressionOptions } from './impressions.js';
export type { ElementTarget, Observation } from './elements.js';
export type { SenderStats } from './sender.js';

let client: Client | undefined;

const current = (): Client => {
  if (!client) throw new Error('Strata.init({ endpoint, key }) must be called first');
  return client;
};

/** Creates the page's client; a second call replaces the first (after sending what it queued). */
export function init(options: StrataOptions): Client {
  client?.shutdown();
  client = createClient(options);
  return client;
}

export const track = <K extends LogType>(logType: K, event: TrackEvent<K>): string => current().track(logType, event);
export const page = (fields?: Partial<TrackEvent<'user_action'>>): string => current().page(fields);
export const observeImpressions = (target: ElementTarget, options: ImpressionOptions): Observation => current().observeImpressions(target, options);
export const observeFrames = (target: ElementTarget, options?: { origin?: string }): Observation => current().observeFrames(target, options);
export const flush = (): Promise<void> => current().flush();
