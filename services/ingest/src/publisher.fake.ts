import type { EventPublisher, OutgoingMessage, PublishOutcome } from './publisher.js';

/**
 * In-memory publisher for unit tests. `fail` refuses every message as Pub/Sub would;
 * `failWhen` refuses only the messages it picks (a publish that fails partway).
 */
export class FakePublisher implements EventPublisher {
  readonly published: OutgoingMessage[] = [];
  fail: Error | undefined;
  failWhen: ((message: OutgoingMessage) => boolean) | undefined;
  private next = 0;

  async publish(messages: OutgoingMessage[]): Promise<PublishOutcome[]> {
    return messages.map((message) => {
      if (this.fail) return { ok: false, error: this.fail };
      if (this.failWhen?.(message)) return { ok: false, error: new Error('UNAVAILABLE (failWhen)') };
      this.published.push(message);
      return { ok: true, messageId: String(++this.next) };
    });
  }
}
