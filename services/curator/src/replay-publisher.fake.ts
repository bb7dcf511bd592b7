import type { ReplayPublisher } from './replay.js';

/** Keeps what it is given; `refuse` makes the next publishes fail, as Pub/Sub being down would. */
export class FakeReplayPublisher implements ReplayPublisher {
  readonly published: Array<{ data: Buffer; attributes: Record<string, string> }> = [];
  /** Messages per publish call, in order. */
  readonly calls: number[] = [];
  refuse = false;

  async publish(messages: Array<{ data: Buffer; attributes: Record<string, string> }>) {
    this.calls.push(messages.length);
    return messages.map((message) => {
      if (this.refuse) return { ok: false as const, error: new Error('Pub/Sub is unavailable') };
      this.published.push(message);
      return { ok: true as const };
    });
  }
}
