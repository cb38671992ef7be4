// The table of every error code in docs/ERRORS.md, made from the registry
// (shared/errors.ts), so that the page cannot describe a code, a status or a
// meaning the code does not have. After a change to the registry:
//   npx tsc -p . && node dist/scripts/errorsDoc.js
// test/shared/errors.test.ts fails while the page and the registry differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { errorCodes, type ErrorEntry } from '../shared/errors.js';

export const START = '<!-- registry:start -->';
export const END = '<!-- registry:end -->';

/** The Markdown table, one row per code in registry order: code, HTTP status (or "-"), meaning. */
export function errorTable(): string {
  const rows = Object.entries(errorCodes as Record<string, ErrorEntry>).map(
    ([code, { status, doc }]) => `| \`${code}\` | ${status ?? '-'} | ${doc.replaceAll('|', '\\|')} |`,
  );
  return ['| code | HTTP | meaning |', '|---|---|---|', ...rows].join('\n');
}

/** The page with the table between its marks replaced. */
export function withTable(page: string): string {
  const start = page.indexOf(START);
  const end = page.indexOf(END);
  if (start < 0 || end < start) throw new Error(`the page has no ${START} ... ${END} section`);
  return `${page.slice(0, start + START.length)}\n${errorTable()}\n${page.slice(end)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = fileURLToPath(
    new URL(import.meta.url.includes('/dist/') ? '../../docs/ERRORS.md' : '../docs/ERRORS.md', import.meta.url),
  );
  writeFileSync(file, withTable(readFileSync(file, 'utf8')));
}
