#!/usr/bin/env node
// Import cycles in src/, type-only imports included (`import type`, `export type ... from`, `import('...')` types):
// parses every .ts file with the TypeScript compiler, resolves relative specifiers ('./x.js' -> './x.ts',
// './dir' -> './dir/index.ts'), finds the strongly connected components of the import graph (Tarjan) and prints
// each cycle. It also refuses any file over MAX_LINES lines (the house rule: no file in src/ over 500 lines).
// Exit code 1 when there is any. Usage: node tools/check-cycles.mjs [dir...] (default: src).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const roots = process.argv.slice(2).length ? process.argv.slice(2) : ['src'];

function listTs(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) listTs(p, out);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(path.resolve(p));
  }
  return out;
}

function resolve(from, spec) {
  if (!spec.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), spec);
  const candidates = [base.replace(/\.js$/, '.ts'), `${base}.ts`, path.join(base, 'index.ts')];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

function importsOf(file) {
  const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const specs = [];
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      if (ts.isStringLiteral(node.moduleSpecifier)) specs.push(node.moduleSpecifier.text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      const lit = node.argument.literal;
      if (ts.isStringLiteral(lit)) specs.push(lit.text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      specs.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(src);
  return [...new Set(specs.map((s) => resolve(file, s)).filter(Boolean))];
}

const files = roots.flatMap((r) => listTs(r, []));
const graph = new Map(files.map((f) => [f, importsOf(f)]));

// Tarjan's strongly connected components, iterative enough for a source tree.
let index = 0;
const stack = [];
const info = new Map();
const cycles = [];
function strong(v) {
  info.set(v, { index, low: index, onStack: true });
  index++;
  stack.push(v);
  for (const w of graph.get(v) ?? []) {
    if (!graph.has(w)) continue;
    if (!info.has(w)) {
      strong(w);
      info.get(v).low = Math.min(info.get(v).low, info.get(w).low);
    } else if (info.get(w).onStack) info.get(v).low = Math.min(info.get(v).low, info.get(w).index);
  }
  if (info.get(v).low === info.get(v).index) {
    const comp = [];
    let w;
    do {
      w = stack.pop();
      info.get(w).onStack = false;
      comp.push(w);
    } while (w !== v);
    if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(comp);
  }
}
for (const f of files) if (!info.has(f)) strong(f);

const rel = (f) => path.relative(process.cwd(), f);
const MAX_LINES = 500;
const long = files
  .map((f) => [f, readFileSync(f, 'utf8').split('\n').length - 1])
  .filter(([, n]) => n > MAX_LINES);
for (const [f, n] of long) console.error(`${rel(f)}: ${n} lines (at most ${MAX_LINES})`);
for (const c of cycles) console.error(`import cycle (${c.length} files): ${c.map(rel).sort().join(', ')}`);
if (cycles.length || long.length) process.exit(1);
console.log(
  `no import cycles in ${files.length} files (${roots.join(', ')}), type-only imports included; none over ${MAX_LINES} lines`,
);
