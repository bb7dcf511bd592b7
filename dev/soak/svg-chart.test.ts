import { describe, expect, it } from 'vitest';
import { escapeXml, lineChart, niceTicks } from './svg-chart.js';

/** The coordinates of every polyline, as [x, y] pairs. */
const polylines = (svg: string) =>
  [...svg.matchAll(/<polyline [^>]*points="([^"]*)"/g)].map((m) => m[1]!.split(' ').map((p) => p.split(',').map(Number)));

describe('niceTicks', () => {
  it('covers the range with 1, 2 or 5 × 10^k steps', () => {
    expect(niceTicks(0, 7.3)).toEqual([0, 2, 4, 6, 8]);
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(12, 97)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(140, 160)).toEqual([140, 145, 150, 155, 160]);
  });

  it('widens an empty range around its value', () => {
    expect(niceTicks(5, 5)).toEqual([4, 4.5, 5, 5.5, 6]);
  });
});

describe('lineChart', () => {
  const svg = lineChart({
    title: 'RSS <per process>',
    xLabel: 'seconds',
    yLabel: 'MiB',
    width: 400,
    height: 300,
    series: [
      { name: 'writer', points: [[0, 0], [10, 100]] },
      { name: 'goal', points: [[0, 50], [10, 50]], dashed: true },
      { name: 'none yet', points: [] },
    ],
  });

  it('is one standalone SVG document with escaped text', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300" viewBox="0 0 400 300"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('RSS &lt;per process&gt;');
    expect(svg).not.toMatch(/NaN|undefined/);
  });

  it('maps the data range onto the plot area, y growing upwards, and draws a legend entry per series', () => {
    const [writer, goal] = polylines(svg);
    // The plot spans x 68..380 and y 56..252 (the margins); ticks run 0..10 and 0..100.
    expect(writer).toEqual([[68, 252], [380, 56]]);
    expect(goal).toEqual([[68, 154], [380, 154]]);
    expect(polylines(svg)).toHaveLength(2);
    expect(svg.match(/stroke-dasharray/g)).toHaveLength(2); // the goal's line and its legend swatch
    for (const name of ['writer', 'goal', 'none yet']) expect(svg).toContain(`>${name}</text>`);
  });

  it('spans x over the data exactly, with round ticks inside it', () => {
    const timeline = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', width: 400, height: 300, series: [{ name: 's', points: [[-2, 1], [61, 2]] }] });
    expect(polylines(timeline)[0]!.map(([x]) => x)).toEqual([68, 380]);
    const xLabels = [...timeline.matchAll(/<text x="[^"]*" y="268" text-anchor="middle">([^<]*)</g)].map((m) => m[1]);
    expect(xLabels).toEqual(['0', '20', '40', '60']);
  });

  it('leaves out points without a finite value and draws a flat series without dividing by zero', () => {
    const flat = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [[0, 3], [1, Number.NaN], [2, 3]] }] });
    expect(polylines(flat)[0]).toHaveLength(2);
    expect(flat).not.toMatch(/NaN|Infinity/);
    expect(lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [] })).not.toMatch(/NaN|Infinity/);
  });
});

describe('escapeXml', () => {
  it('escapes the five XML special characters', () => {
    expect(escapeXml(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
  });
});
