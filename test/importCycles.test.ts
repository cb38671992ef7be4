// No module of edge/, cloud/ or shared/ imports itself through others. A cycle
// makes the load order decide which side sees the other half-initialised (an
// undefined export at start-up), and says two modules are one job split in
// two. Type-only imports count too: they are the usual first step of a cycle.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import t from 'tap';
import ts from 'typescript';

const ROOT = new URL('..', import.meta.url).pathname;

function sources(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) sources(path, out);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Each file's relative imports and re-exports (static and dynamic), resolved to .ts files. */
function importGraph(files: readonly string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const source = ts.createSourceFile(
      file,
      readFileSync(file, 'utf8'),
      ts.ScriptTarget.ES2022,
      false,
      ts.ScriptKind.TS,
    );
    const targets: string[] = [];
    const add = (specifier: ts.Node | undefined) => {
      if (specifier && ts.isStringLiteralLike(specifier) && specifier.text.startsWith('.')) {
        targets.push(resolve(dirname(file), specifier.text.replace(/\.js$/, '.ts')));
      }
    };
    const visit = (node: ts.Node): void => {
      if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node.moduleSpecifier);
      else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword)
        add(node.arguments[0]);
      else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal);
      ts.forEachChild(node, visit);
    };
    visit(source);
    graph.set(file, targets);
  }
  return graph;
}

/** The strongly connected components of more than one module, or of one that imports itself (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const connect = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v)!.includes(v)) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) connect(v);
  return found;
}

t.test('edge/, cloud/ and shared/ have no import cycle', async (t) => {
  const files = ['edge', 'cloud', 'shared'].flatMap((dir) => sources(join(ROOT, dir)));
  t.ok(files.length > 100, `${files.length} modules read`);
  const graph = importGraph(files);
  t.ok([...graph.values()].flat().length > files.length, 'their relative imports found');
  t.same(
    cycles(graph).map((c) => c.map((f) => relative(ROOT, f))),
    [],
    'no cycle',
  );
});

t.test('the finder sees a cycle through type-only, re-exported and dynamic imports', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wardgate-cycles-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  };
  write('registry.ts', "import { a } from './drivers/a.js';\nexport const all = [a];\n");
  write('drivers/a.ts', "import type { Driver } from '../registry.js';\nexport const a = 1;\n");
  write('device.ts', "export * from './service.js';\n");
  write('service.ts', "export const load = () => import('./device.js');\n");
  write('alone.ts', "import { a } from './drivers/a.js';\nexport const b = a;\n");
  const found = cycles(importGraph(sources(dir))).map((c) => c.map((f) => relative(dir, f)));
  t.same(found.sort(), [
    ['device.ts', 'service.ts'],
    ['drivers/a.ts', 'registry.ts'],
  ]);
});
