import Table from 'cli-table3';

/** A text table for the terminal tools: NULL for null, objects as JSON. */
export function renderTable(head: string[], rows: unknown[][]): string {
  const table = new Table({ head });
  for (const row of rows) table.push(row.map((v) => (v === null || v === undefined ? 'NULL' : typeof v === 'object' ? JSON.stringify(v) : String(v))));
  return table.toString();
}
