import { describe, expect, it } from 'vitest';
import { wrappedPushBody } from './push-body.js';

describe('wrappedPushBody', () => {
  const message = {
    messageId: '2070443601311540',
    data: Buffer.from('Hello Cloud Pub/Sub! Here is my message!'),
    attributes: { log_type: 'page_view' },
    publishTime: new Date('2021-02-26T19:13:55.749Z'),
    orderingKey: '',
  };

  it('matches the body Pub/Sub posts to a push endpoint', () => {
    expect(JSON.stringify(wrappedPushBody('projects/myproject/subscriptions/mysubscription', message, 1))).toBe(
      JSON.stringify({
        message: {
          data: 'SGVsbG8gQ2xvdWQgUHViL1N1YiEgSGVyZSBpcyBteSBtZXNzYWdlIQ==',
          attributes: { log_type: 'page_view' },
          messageId: '2070443601311540',
          message_id: '2070443601311540',
          publishTime: '2021-02-26T19:13:55.749Z',
          publish_time: '2021-02-26T19:13:55.749Z',
        },
        subscription: 'projects/myproject/subscriptions/mysubscription',
        deliveryAttempt: 1,
      }),
    );
  });

  it('leaves out deliveryAttempt without a dead-letter policy', () => {
    expect(wrappedPushBody('projects/p/subscriptions/s', message, undefined)).not.toHaveProperty('deliveryAttempt');
  });
});
