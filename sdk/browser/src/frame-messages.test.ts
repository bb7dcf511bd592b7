import { describe, expect, it } from 'vitest';
import { FRAME_VISIBILITY, isFrameHello, parseFrameVisibility, visibleInParent } from './frame-messages.js';

const box = (top: number, left: number, bottom: number, right: number) => ({ top, left, bottom, right });

describe('parseFrameVisibility', () => {
  it('accepts a well-formed update and refuses anything else', () => {
    const message = { type: FRAME_VISIBILITY, ratio: 0.5, box: box(0, 0, 100, 300), pageUrl: 'https://pub.example/a' };
    expect(parseFrameVisibility(message)).toEqual(message);
    expect(parseFrameVisibility({ type: FRAME_VISIBILITY, ratio: 0, box: null })).toEqual({ type: FRAME_VISIBILITY, ratio: 0, box: null });
    for (const bad of [null, 'x', {}, { ...message, type: 'other' }, { ...message, ratio: 2 }, { ...message, ratio: '1' }, { ...message, box: { top: 0 } }, { ...message, box: undefined }]) {
      expect(parseFrameVisibility(bad)).toBeUndefined();
    }
  });

  it('recognises the iframe\'s hello', () => {
    expect(isFrameHello({ type: 'strata:frame-hello' })).toBe(true);
    expect(isFrameHello(null)).toBe(false);
  });
});

describe('visibleInParent', () => {
  const link = box(50, 10, 70, 110);
  it('is 0 before the parent said anything, and when it says the iframe is not visible', () => {
    expect(visibleInParent(link, undefined)).toBe(0);
    expect(visibleInParent(link, { type: FRAME_VISIBILITY, ratio: 0, box: null })).toBe(0);
  });

  it('is the share of the element inside the part of the iframe the page shows', () => {
    expect(visibleInParent(link, { type: FRAME_VISIBILITY, ratio: 1, box: box(0, 0, 300, 300) })).toBe(1);
    // Only the iframe's top 60 px show: half the link.
    expect(visibleInParent(link, { type: FRAME_VISIBILITY, ratio: 0.2, box: box(0, 0, 60, 300) })).toBe(0.5);
  });
});
