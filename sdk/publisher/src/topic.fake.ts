import { decodeBatch } from '@strata/schemas';
import type { PublishTarget } from './publisher.js';

export interface PublishedMessage {
  data: Buffer;
  attributes: Record<string, string>;
}

/**
 * An in-memory topic for unit tests: keeps what was published, and rejects publishes chosen by
 * `fail` as Pub/Sub does once the client's own retries are spent.
 */
export class FakeTopic implements PublishTarget {
  readonly published: PublishedMessage[] = [];
  /** Publish attempts, failed ones included. */
  attempts = 0;
  private failing: ((message: PublishedMessage) => boolean) | undefined;
  private next = 0;

  /** Makes publishes reject (all of them, or those `which` picks) until `heal()`. */
  fail(which: (message: PublishedMessage) => boolean = () => true): void {
    this.failing = which;
  }

  heal(): void {
    this.failing = undefined;
  }

  async publishMessage(message: PublishedMessage): Promise<string> {
    this.attempts += 1;
    if (this.failing?.(message)) throw Object.assign(new Error('14 UNAVAILABLE: Pub/Sub is down'), { code: 14 });
    this.published.push(message);
    return String(++this.next);
  }

  /** Every published event, decoded as the writer decodes it, in publish order. */
  async events(): Promise<Array<Record<string, unknown>>> {
    const events: Array<Record<string, unknown>> = [];
    for (const message of this.published) {
      const decoded = await decodeBatch(message.attributes, message.data);
      if (!decoded.ok) throw new Error(`published a message the writer cannot read: ${decoded.reason}`);
      for (const line of decoded.lines) {
        if (!line.ok) throw new Error(`published a line the writer cannot read: ${line.reason}`);
        events.push(line.value as Record<string, unknown>);
      }
    }
    return events;
  }
}
