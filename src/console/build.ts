import { existsSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Builds the console's browser assets (src/console/app) into `outDir` (default dist/console): one ES module bundle
 * (preact + htm + the pages, minified, with a source map), the stylesheet and index.html. Run by `npm run build`;
 * nothing is fetched at run time and no CDN is involved. esbuild is a build-time dependency only.
 */
export async function buildConsole(outDir: string): Promise<string[]> {
  const { build } = await import('esbuild');
  const root = findRoot();
  const app = path.join(root, 'src', 'console', 'app');
  await mkdir(outDir, { recursive: true });
  await build({
    entryPoints: [path.join(app, 'main.ts')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    outfile: path.join(outDir, 'app.js'),
    logLevel: 'warning',
    legalComments: 'linked',
  });
  await copyFile(path.join(app, 'style.css'), path.join(outDir, 'app.css'));
  await copyFile(path.join(app, 'index.html'), path.join(outDir, 'index.html'));
  return ['index.html', 'app.js', 'app.css'];
}

/** The package root: the nearest folder above this file with src/console/app (works from src/ and from dist/src/). */
export function findRoot(): string {
  const dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.resolve(dir, ...Array(i).fill('..'));
    if (existsSyncSafe(path.join(candidate, 'src', 'console', 'app', 'main.ts'))) return candidate;
  }
  throw new Error('console sources not found (src/console/app)');
}

function existsSyncSafe(p: string): boolean {
  try {
    return existsSync(p);
  } catch {
    return false;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const out = process.argv[2] ?? path.join(findRoot(), 'dist', 'console');
  buildConsole(out).then(
    (files) => process.stdout.write(`console assets: ${files.map((f) => path.join(out, f)).join(', ')}\n`),
    (err: unknown) => {
      process.stderr.write(`console build failed: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
