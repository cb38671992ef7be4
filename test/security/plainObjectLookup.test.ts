// Keeps one class of defect out of the source: looking up a string that may
// come from outside (a unit, a code, a header, a field name) in a plain object.
// Every object literal inherits '__proto__', 'constructor', 'toString',
// 'valueOf' and more from Object.prototype, so `table[unit]` answers a function
// for those names and `unit in table` says yes: one crafted message then
// throws, or is accepted, where it should have been refused. Maps,
// null-prototype objects and Object.hasOwn have no such inherited answers.
//
// The rule, read with the type checker over every source file (TypeScript and
// JavaScript) under shared/, edge/, cloud/, simulators/ and bin/:
//   - `obj[key]` and `obj?.[key]`, read or written, where `key` may be any
//     string (type string, any, a template literal type) and `obj` is neither
//     an array, a tuple, a string nor a typed array;
//   - `key in obj` where `key` may be any string.
// Not flagged: keys of a literal type (a union such as CanonicalUnit is fixed
// by the compiler, not by the wire), numeric indexes, objects made by
// Object.create(null) in their own declaration, and a lookup guarded by
// `Object.hasOwn(obj, key)` in the condition around it (`?:`, `&&`, `if`). Sites reviewed as safe are
// listed in `reviewed` below, each with the reason.
import t from 'tap';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { ROOT } from '../helpers/gateway.js';

const SCANNED = ['shared', 'edge', 'cloud', 'simulators', 'bin'];

/** Reviewed sites: file, the flagged expression as written, and why it cannot meet a hostile string. */
const reviewed: ReadonlyArray<{ file: string; code: string; why: string }> = [
  // Environment variable names from the config, each held by its schema to
  // /^[A-Z_][A-Z0-9_]*$/: no name Object.prototype has matches it.
  {
    file: 'edge/config/load.ts',
    code: 'env[webhook.secretEnv]',
    why: 'alarms.webhook.secretEnv is an upper-case variable name (edge/alarms/config.ts)',
  },
  {
    file: 'edge/config/load.ts',
    code: 'env[config.cloud.secretEnv]',
    why: 'cloud.secretEnv is an upper-case variable name (edge/sync/config.ts envName)',
  },
  {
    file: 'edge/config/load.ts',
    code: 'env[config.cloud.wardSecretEnv]',
    why: 'cloud.wardSecretEnv is an upper-case variable name (edge/sync/config.ts envName)',
  },
  {
    file: 'edge/config/load.ts',
    code: 'env[entry.secretHashEnv]',
    why: 'secretHashEnv is an upper-case variable name (edge/config/schema.ts)',
  },
  {
    file: 'edge/config/load.ts',
    code: 'env[proxy.passwordEnv]',
    why: 'proxy.passwordEnv is an upper-case variable name (edge/net/config.ts envName)',
  },
  {
    file: 'edge/net/outbound.ts',
    code: 'env[config.passwordEnv]',
    why: 'proxy.passwordEnv is an upper-case variable name (edge/net/config.ts envName)',
  },
  // The proxy's standard variables, named by constants at each call of envValue (HTTPS_PROXY, no_proxy...).
  { file: 'edge/net/outbound.ts', code: 'env[name]', why: 'names from the constant proxy variable names' },
  // A bed's latest values by metric: readings reach the engine only with a code of the registry
  // (shared/observation.ts refuses any other, WG_ERR_UNKNOWN_CODE), named by its short name or 'pulse'.
  {
    file: 'edge/alarms/bedVitalsPublisher.ts',
    code: 'vitals[k]',
    why: "keys are the code registry's short names and 'pulse' (shared/codes.ts), never '__proto__'",
  },
  // Environment overrides: names and paths are the constant table envOverrides in edge/config/schema.ts, not input.
  { file: 'edge/config/load.ts', code: 'env[name]', why: 'names from the constant envOverrides table' },
  { file: 'edge/config/load.ts', code: 'node[key]', why: 'keys from the constant envOverrides paths' },
  {
    file: 'edge/config/load.ts',
    code: 'node[path[path.length - 1]]',
    why: 'keys from the constant envOverrides paths',
  },
  {
    file: 'edge/alarms/alarmService.ts',
    code: 'this.#deps.env[hook.secretEnv]',
    why: 'alarms.webhook.secretEnv is an upper-case variable name (edge/alarms/config.ts)',
  },
  {
    file: 'edge/cli/syncCommand.ts',
    code: 'io.env[cloud.secretEnv]',
    why: 'cloud.secretEnv is an upper-case variable name (edge/sync/config.ts envName)',
  },
  {
    file: 'edge/cli/syncCommand.ts',
    code: 'io.env[cloud.wardSecretEnv]',
    why: 'cloud.wardSecretEnv is an upper-case variable name (edge/sync/config.ts envName)',
  },
  {
    file: 'edge/sync/syncWiring.ts',
    code: 'env[cloud.secretEnv]',
    why: 'cloud.secretEnv is an upper-case variable name (edge/sync/config.ts envName)',
  },
  {
    file: 'edge/sync/syncWiring.ts',
    code: 'env[cloud.wardSecretEnv]',
    why: 'cloud.wardSecretEnv is an upper-case variable name (edge/sync/config.ts envName)',
  },
  // Writes of own properties into a fresh object, keys held to /^[A-Za-z][A-Za-z0-9_]{0,31}$/ first: '__proto__' cannot pass.
  {
    file: 'edge/sync/batchBuilder.ts',
    code: 'out[key]',
    why: 'audit detail keys checked against a letter-first pattern before the write',
  },
];

interface Hit {
  file: string;
  line: number;
  code: string;
}

t.test('no string from outside is looked up in a plain object', async (t) => {
  const files = SCANNED.flatMap((dir) => sourceFiles(join(ROOT, dir)));
  t.ok(files.length > 100, `scans the whole source (${files.length} files)`);
  const all = findPlainObjectLookups(files, ROOT);
  const isReviewed = (hit: Hit) => reviewed.some((r) => r.file === hit.file && r.code === hit.code);
  t.same(
    all.filter((hit) => !isReviewed(hit)).map(describe),
    [],
    'use a Map, Object.hasOwn or an Object.create(null) table, or review the site and list it with the reason',
  );
  const stale = reviewed.filter((r) => !all.some((hit) => hit.file === r.file && hit.code === r.code));
  t.same(stale, [], 'every reviewed site still exists (remove entries that were fixed)');
});

t.test('the rule flags the shapes it is meant to and leaves the safe ones', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wardgate-lookup-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bad = join(dir, 'bad.ts');
  writeFileSync(
    bad,
    [
      'const factors: Record<string, number> = { kPa: 7.5 };',
      'const names = { a: 1, b: 2 };',
      'export function convert(unit: string, v: number): number { return v * (factors[unit] ?? 1); }',
      'export function known(unit: string): boolean { return unit in factors; }',
      'export function named(key: string): unknown { return (names as Record<string, number>)?.[key]; }',
      'export function store(into: { [k: string]: unknown }, key: `x-${string}`): void { into[key] = 1; }',
      'export function wrongGuard(name: string, other: string): number { return Object.hasOwn(factors, other) ? factors[name] : 0; }',
    ].join('\n'),
  );
  const good = join(dir, 'good.ts');
  writeFileSync(
    good,
    [
      "type Unit = '%' | 'Cel';",
      "const byUnit: Record<Unit, number> = { '%': 1, Cel: 2 };",
      'const table = new Map<string, number>([["kPa", 7.5]]);',
      'const bare: Record<string, number> = Object.create(null);',
      'const cast = Object.create(null) as Record<string, number>;',
      'const beds: Record<string, number> = { a: 1 };',
      'export const bed = (name: string) => (Object.hasOwn(beds, name) ? beds[name] : undefined);',
      'export function f(unit: Unit, key: string, list: number[], i: number, text: string, bytes: Buffer): number[] {',
      "  return [byUnit[unit], table.get(key) ?? 0, list[i], text[i] === 'a' ? 1 : 0, bytes[i], bare[key] ?? 0, cast[key] ?? 0, Object.hasOwn(byUnit, key) ? 1 : 0,",
      "    'code' in byUnit ? 1 : 0];",
      '}',
    ].join('\n'),
  );
  t.same(
    findPlainObjectLookups([bad], dir).map((hit) => hit.code),
    ['factors[unit]', 'unit in factors', '(names as Record<string, number>)?.[key]', 'into[key]', 'factors[name]'],
  );
  t.same(findPlainObjectLookups([good], dir).map(describe), []);
});

function describe(hit: Hit): string {
  return `${hit.file}:${hit.line}: ${hit.code}`;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|js|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath, e.name))
    .filter((file) => !file.includes(`${join('node_modules')}`));
}

function findPlainObjectLookups(files: readonly string[], root: string): Hit[] {
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2023.d.ts'],
    types: ['node'],
    typeRoots: [join(ROOT, 'node_modules', '@types')],
    strict: true,
    allowJs: true,
    skipLibCheck: true,
    noEmit: true,
    esModuleInterop: true,
    resolveJsonModule: true,
  });
  const checker = program.getTypeChecker();
  const hits: Hit[] = [];
  for (const file of files) {
    const source = program.getSourceFile(file);
    if (!source) continue;
    const visit = (node: ts.Node): void => {
      if (isSuspectLookup(node, checker)) {
        hits.push({
          file: relative(root, file),
          line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1,
          code: node.getText(source),
        });
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return hits;
}

function isSuspectLookup(node: ts.Node, checker: ts.TypeChecker): boolean {
  if (ts.isElementAccessExpression(node)) {
    return (
      mayBeAnyString(checker.getTypeAtLocation(node.argumentExpression)) &&
      isPlainObjectTarget(node.expression, checker) &&
      !isGuardedByHasOwn(node)
    );
  }
  if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.InKeyword) {
    return mayBeAnyString(checker.getTypeAtLocation(node.left));
  }
  return false;
}

/** A key type that admits strings the compiler does not know: string, any, a template literal. */
function mayBeAnyString(type: ts.Type): boolean {
  if (type.isUnion()) return type.types.some(mayBeAnyString);
  return (
    (type.flags &
      (ts.TypeFlags.String |
        ts.TypeFlags.Any |
        ts.TypeFlags.Unknown |
        ts.TypeFlags.TemplateLiteral |
        ts.TypeFlags.StringMapping)) !==
    0
  );
}

function isPlainObjectTarget(expression: ts.Expression, checker: ts.TypeChecker): boolean {
  if (isNullPrototype(expression, checker)) return false;
  const type = checker.getNonNullableType(checker.getTypeAtLocation(expression));
  const parts = type.isUnion() ? type.types : [type];
  return parts.some((part) => !isIndexedByPosition(part, checker));
}

/** Arrays, tuples, strings and typed arrays (Buffer): a string key there is a position, or NaN's undefined. */
function isIndexedByPosition(type: ts.Type, checker: ts.TypeChecker): boolean {
  if (checker.isArrayType(type) || checker.isTupleType(type)) return true;
  if (type.flags & (ts.TypeFlags.StringLike | ts.TypeFlags.NumberLike)) return true;
  const name = type.getSymbol()?.getName() ?? '';
  return /^(Buffer|(Ui|I)nt(8|16|32)Array|Uint8ClampedArray|Float(32|64)Array|Big(Ui|I)nt64Array)$/.test(name);
}

/** Inside the true branch of a condition that checks `Object.hasOwn(obj, key)` for this very obj and key. */
function isGuardedByHasOwn(node: ts.ElementAccessExpression): boolean {
  const guard = `Object.hasOwn(${node.expression.getText()}, ${node.argumentExpression.getText()})`;
  for (
    let child: ts.Node = node, parent = node.parent;
    parent && !ts.isFunctionLike(parent);
    child = parent, parent = parent.parent
  ) {
    const condition =
      ts.isConditionalExpression(parent) && parent.whenTrue === child
        ? parent.condition
        : ts.isIfStatement(parent) && parent.thenStatement === child
          ? parent.expression
          : ts.isBinaryExpression(parent) &&
              parent.operatorToken.kind === ts.SyntaxKind.AmpersandAmpersandToken &&
              parent.right === child
            ? parent.left
            : undefined;
    if (condition?.getText().includes(guard)) return true;
  }
  return false;
}

/** `const table = Object.create(null)` (or `: T = Object.create(null)`): nothing inherited to find. */
function isNullPrototype(expression: ts.Expression, checker: ts.TypeChecker): boolean {
  const target = ts.isParenthesizedExpression(expression) ? expression.expression : expression;
  if (!ts.isIdentifier(target) && !ts.isPropertyAccessExpression(target)) return false;
  const declaration = checker.getSymbolAtLocation(ts.isIdentifier(target) ? target : target.name)?.valueDeclaration;
  let initializer =
    declaration && (ts.isVariableDeclaration(declaration) || ts.isPropertyDeclaration(declaration))
      ? declaration.initializer
      : undefined;
  // `Object.create(null) as Record<string, T>` is the same table with a type.
  while (initializer && (ts.isAsExpression(initializer) || ts.isParenthesizedExpression(initializer)))
    initializer = initializer.expression;
  return initializer !== undefined && /^Object\.create\(\s*null\s*\)$/.test(initializer.getText());
}
