import { throttle } from './geometry.js';

/** What `observeImpressions` and `observeFrames` accept: a CSS selector, one element, or several. */
export type ElementTarget = string | Element | Iterable<Element> | ArrayLike<Element>;

export function resolveElements(target: ElementTarget, root: ParentNode = document): Element[] {
  if (typeof target === 'string') return Array.from(root.querySelectorAll(target));
  if (target instanceof Element) return [target];
  return Array.from(target as ArrayLike<Element>);
}

export interface Observation {
  /** Stops observing: no more impressions, clicks or visibility messages from these elements. */
  disconnect(): void;
}

// Scroll events come at the frame rate; measuring ten times a second is plenty to time a dwell
// of hundreds of milliseconds.
const MEASURE_EVERY_MS = 100;

/** Calls `measure` (throttled) after scrolls anywhere in the page (capture) and resizes; returns the removal. */
export function onViewportChange(measure: () => void): () => void {
  const throttled = throttle(measure, MEASURE_EVERY_MS);
  const options: AddEventListenerOptions = { capture: true, passive: true };
  addEventListener('scroll', throttled, options);
  addEventListener('resize', throttled, options);
  return () => {
    removeEventListener('scroll', throttled, options);
    removeEventListener('resize', throttled, options);
  };
}

export const viewportBox = () => ({ top: 0, left: 0, bottom: innerHeight, right: innerWidth });

export const hasIntersectionObserver = (): boolean => typeof IntersectionObserver === 'function';

export const clip = (text: string, max: number): string => (text.length > max ? text.slice(0, max) : text);
