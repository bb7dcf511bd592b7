import { visibleRatio, type Box } from './geometry.js';

/**
 * The messages a publisher's page and our widget's iframe exchange (seed 003: "the parent page
 * tells the iframe when users can actually see it"). A link inside an iframe is visible to the
 * user only if it is visible in the iframe's viewport and that part of the iframe is visible in
 * the page, which only the page can measure.
 *
 * - iframe → page, once when the iframe's SDK starts: `{type: 'strata:frame-hello'}`, so a page
 *   that measured before the iframe listened sends its measurement again.
 * - page → iframe, on every change: `{type: 'strata:frame-visibility', ratio, box, pageUrl}`, with
 *   `box` the part of the iframe the user sees, in the iframe's coordinates (null: none).
 *
 * Both sides name the other's origin as postMessage's targetOrigin and check `event.origin` and
 * `event.source` on receipt, so no other page or frame can feed or read them.
 */

export const FRAME_HELLO = 'strata:frame-hello';
export const FRAME_VISIBILITY = 'strata:frame-visibility';

export interface FrameVisibility {
  type: typeof FRAME_VISIBILITY;
  /** The share of the iframe visible in the page. */
  ratio: number;
  box: Box | null;
  /** The publisher's page, for the widget's impressions' `page_url`. */
  pageUrl?: string;
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function parseBox(value: unknown): Box | null | undefined {
  if (value === null) return null;
  const b = value as Partial<Box> | undefined;
  if (typeof b !== 'object' || !finite(b.top) || !finite(b.left) || !finite(b.bottom) || !finite(b.right)) return undefined;
  return { top: b.top, left: b.left, bottom: b.bottom, right: b.right };
}

/** The message if it is a well-formed visibility update, else undefined (messages are untrusted input). */
export function parseFrameVisibility(data: unknown): FrameVisibility | undefined {
  const m = data as Partial<FrameVisibility> | null;
  if (typeof m !== 'object' || m === null || m.type !== FRAME_VISIBILITY || !finite(m.ratio) || m.ratio < 0 || m.ratio > 1) return undefined;
  const box = parseBox(m.box);
  if (box === undefined) return undefined;
  return { type: FRAME_VISIBILITY, ratio: m.ratio, box, ...(typeof m.pageUrl === 'string' && { pageUrl: m.pageUrl }) };
}

export const isFrameHello = (data: unknown): boolean => (data as { type?: unknown } | null)?.type === FRAME_HELLO;

/**
 * What the parent's last message allows of an element at `rect` (in the iframe's coordinates):
 * nothing before the first message, since a link counts only once both it and its iframe are
 * known to be visible.
 */
export function visibleInParent(rect: Box, parent: FrameVisibility | undefined): number {
  if (!parent || parent.ratio === 0 || parent.box === null) return 0;
  return visibleRatio(rect, parent.box);
}
