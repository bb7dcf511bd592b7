/**
 * A small dependency-free SVG line chart for the soak report: one or more series over a shared
 * x axis, "nice" ticks (1, 2 or 5 × 10^k), a legend, and dashed series for goals and targets.
 * Renders as a standalone file that GitHub shows inline in markdown.
 */
export interface Series {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
  /** Dashed, for goals and targets. */
  dashed?: boolean;
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  width?: number;
  height?: number;
  /** Lowest y shown (default 0, or the data's minimum when that is lower). */
  yMin?: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const MARGIN = { top: 56, right: 20, bottom: 48, left: 68 };

/** About `count` evenly spaced round values covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return niceTicks(min - 1, min + 1, count);
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const first = Math.floor(min / step + 1e-9);
  const last = Math.ceil(max / step - 1e-9);
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  return Array.from({ length: last - first + 1 }, (_, i) => Number(((first + i) * step).toFixed(decimals)));
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

// Loops, not Math.min(...values): spreading a long array overflows the call stack.
const least = (values: number[]) => values.reduce((a, b) => Math.min(a, b));
const most = (values: number[]) => values.reduce((a, b) => Math.max(a, b));
const label = (value: number) => value.toLocaleString('en-US', { maximumFractionDigits: 3 });
const round = (value: number) => Math.round(value * 10) / 10;

export function lineChart(chart: LineChart): string {
  const width = chart.width ?? 800;
  const height = chart.height ?? 360;
  // Points without a finite value (an empty bucket's percentile) are left out, not drawn at 0.
  const series = chart.series.map((s) => ({ ...s, points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)) }));
  const xs = series.flatMap((s) => s.points.map(([x]) => x));
  const ys = series.flatMap((s) => s.points.map(([, y]) => y));
  // x (time) spans the data exactly, with the round ticks inside it; y extends to round ticks.
  let [x0, x1] = xs.length ? [least(xs), most(xs)] : [0, 1];
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  const xTicks = niceTicks(x0, x1).filter((x) => x >= x0 && x <= x1);
  const yTicks = niceTicks(Math.min(chart.yMin ?? 0, ys.length ? least(ys) : 0), ys.length ? most(ys) : 1);
  const [y0, y1] = [yTicks[0]!, yTicks[yTicks.length - 1]!];
  const plot = { left: MARGIN.left, right: width - MARGIN.right, top: MARGIN.top, bottom: height - MARGIN.bottom };
  const px = (x: number) => round(plot.left + ((x - x0) / (x1 - x0)) * (plot.right - plot.left));
  const py = (y: number) => round(plot.bottom - ((y - y0) / (y1 - y0)) * (plot.bottom - plot.top));

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(chart.title)}</text>`,
  ];
  for (const y of yTicks) {
    parts.push(`<line x1="${plot.left}" y1="${py(y)}" x2="${plot.right}" y2="${py(y)}" stroke="#e0e0e0"/>`);
    parts.push(`<text x="${plot.left - 6}" y="${py(y) + 4}" text-anchor="end">${label(y)}</text>`);
  }
  for (const x of xTicks) parts.push(`<text x="${px(x)}" y="${plot.bottom + 16}" text-anchor="middle">${label(x)}</text>`);
  parts.push(
    `<line x1="${plot.left}" y1="${plot.bottom}" x2="${plot.right}" y2="${plot.bottom}" stroke="black"/>`,
    `<line x1="${plot.left}" y1="${plot.top}" x2="${plot.left}" y2="${plot.bottom}" stroke="black"/>`,
    `<text x="${(plot.left + plot.right) / 2}" y="${height - 10}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`,
    `<text transform="translate(16 ${(plot.top + plot.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(chart.yLabel)}</text>`,
  );
  let legendX = plot.left;
  series.forEach(({ name, points, dashed }, i) => {
    const color = COLORS[i % COLORS.length]!;
    const dash = dashed ? ' stroke-dasharray="6 4"' : '';
    if (points.length > 0) {
      const coordinates = points.map(([x, y]) => `${px(x)},${py(y)}`).join(' ');
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5"${dash} points="${coordinates}"/>`);
    }
    parts.push(`<line x1="${legendX}" y1="38" x2="${legendX + 18}" y2="38" stroke="${color}" stroke-width="2"${dash}/>`);
    parts.push(`<text x="${legendX + 22}" y="42">${escapeXml(name)}</text>`);
    // About 7 px a character at 12 px sans-serif: enough room that legend entries do not overlap.
    legendX += 30 + name.length * 7;
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
