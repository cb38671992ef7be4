// SQL lives in edge/store/ and nowhere else in the gateway: the features hold
// their rules and call the store's query modules, so a change of schema is
// a change of store/ alone, and what a feature reads or writes is named there.
// This scans every module of edge/ outside store/ for a prepared statement, a
// pragma, a transaction of better-sqlite3's own, an import of the driver, or a
// string that is SQL, and fails naming the file and the line.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import t from 'tap';
import ts from 'typescript';

const ROOT = new URL('../../..', import.meta.url).pathname;
const EDGE = join(ROOT, 'edge');
const STORE = join(EDGE, 'store');

/** SQL in a string: upper-case keywords, as every statement of the project writes them. */
const SQL = [
  /\bSELECT\b[\s\S]*?\bFROM\b/,
  /\bSELECT\s+(\d|\*|count\(|max\(|min\(|sum\(|coalesce\()/,
  /\bINSERT\s+(OR\s+[A-Z]+\s+)?INTO\b/,
  /\bREPLACE\s+INTO\b/,
  /\bUPDATE\s+\w+\s+SET\b/,
  /\bDELETE\s+FROM\b/,
  /\b(CREATE|DROP|ALTER)\s+(TABLE|INDEX|VIEW|TRIGGER)\b/,
  /\bPRAGMA\s+\w+/,
  /^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|VACUUM)\b/,
];

/** better-sqlite3's calls on a database or a statement; `exec` is RegExp's too, so its SQL is caught as a string. */
const DRIVER_CALLS = new Set(['prepare', 'pragma', 'transaction']);

/** What in `text` (the source of `name`) is SQL or speaks to the driver: one line per finding. */
function findings(name: string, text: string): string[] {
  const source = ts.createSourceFile(name, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const at = (node: ts.Node, what: string) =>
    found.push(`${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}: ${what}`);
  const visit = (node: ts.Node): void => {
    if (
      ts.isImportDeclaration(node) &&
      ts.isStringLiteral(node.moduleSpecifier) &&
      node.moduleSpecifier.text === 'better-sqlite3'
    )
      at(node, 'imports better-sqlite3');
    else if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      DRIVER_CALLS.has(node.expression.name.text)
    )
      at(node, `.${node.expression.name.text}(...)`);
    else if (
      (ts.isStringLiteral(node) ||
        ts.isNoSubstitutionTemplateLiteral(node) ||
        ts.isTemplateHead(node) ||
        ts.isTemplateMiddle(node) ||
        ts.isTemplateTail(node)) &&
      SQL.some((re) => re.test(node.text))
    )
      at(node, `SQL in a string: ${node.text.replace(/\s+/g, ' ').trim().slice(0, 60)}`);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function sources(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (path !== STORE) sources(path, out);
    } else if (/\.(ts|js|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const repoPath = (path: string) => relative(ROOT, path).split(sep).join('/');

t.test('the scan sees SQL and the driver, and not the words of the ward', async (t) => {
  const cases: Array<[string, boolean]> = [
    ["db.prepare('SELECT bed FROM admissions WHERE patient = ?')", true],
    ["const q = 'SELECT 1';", true],
    ['const q = `INSERT INTO patients (identifier) VALUES (?)`;', true],
    ["const q = 'INSERT OR IGNORE INTO devices (device_id) VALUES (?)';", true],
    ['const q = `UPDATE admissions SET bed = ${bed} WHERE id = ?`;', true],
    ["const q = 'DELETE FROM adt_messages WHERE received_at < ?';", true],
    ["db.exec('BEGIN IMMEDIATE')", true],
    ["db.pragma('wal_checkpoint(TRUNCATE)')", true],
    ['const run = db.transaction(() => 1);', true],
    ["import type { Statement } from 'better-sqlite3';", true],
    ["import Database from 'better-sqlite3';", true],
    ['const m = /^WGA(\\d+)$/.exec(controlId);', false],
    ["const reason = 'select a bed from the list, then update the settings';", false],
    ["const text = 'Please select the device from the menu';", false],
    ['// SELECT bed FROM admissions: a comment says what the store does\nconst x = 1;', false],
    ["const segment = 'OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||97|%';", false],
    ["const msg = 'the outbox has 3 batches to commit';", false],
  ];
  for (const [code, sql] of cases) t.equal(findings('x.ts', code).length > 0, sql, code);
});

t.test('edge/ holds SQL only in edge/store/', async (t) => {
  const offenders: string[] = [];
  for (const file of sources(EDGE)) {
    const found = findings(file, readFileSync(file, 'utf8'));
    if (found.length > 0) offenders.push(`${repoPath(file)}\n  ${found.join('\n  ')}`);
  }
  t.same(offenders, [], 'no SQL outside edge/store/ (move it into a query module there)');
});
