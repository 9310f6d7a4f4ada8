/**
 * Side-by-side DTMF comparison on the committed test set (fixtures/dtmf/cases): our detector (through the same code
 * path as `voice-engine dtmf`), spandsp's dtmf_rx (default parameters) and multimon-ng's DTMF decoder.
 *
 *   npx tsx tools/dtmf-compare/compare.ts [--verbose] [--json]
 *
 * Needs gcc + libspandsp-dev (spandsp_dtmf.c is compiled into a temp dir at run time), multimon-ng and sox (which
 * decodes each WAV, G.711 included, and resamples it to what each peer wants: 8 kHz for spandsp, 22050 Hz for
 * multimon-ng). A missing peer is reported as n/a, not as a failure.
 * A must-detect case is correct when exactly the expected digits come out, in order; a must-reject case when none
 * does; for talk-off (speech, music) every reported digit is a false digit.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectDtmfInFile } from '../../src/cli/dtmf.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const CASES = join(HERE, '..', '..', 'fixtures', 'dtmf', 'cases');

interface Case {
  name: string;
  kind: 'detect' | 'reject' | 'talkoff';
  category: string;
  digits: string;
}

type Detector = (wav: string) => string | null;

function soxRaw(wav: string, rate: number): Buffer {
  return execFileSync('sox', ['-D', wav, '-t', 'raw', '-e', 'signed', '-b', '16', '-c', '1', '-r', String(rate), '-'], {
    maxBuffer: 64 << 20,
  });
}

function has(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).error === undefined;
}

function spandspDetector(tmp: string): Detector | null {
  const bin = join(tmp, 'spandsp_dtmf');
  const cc = spawnSync('gcc', ['-O2', '-o', bin, join(HERE, 'spandsp_dtmf.c'), '-lspandsp'], { encoding: 'utf8' });
  if (cc.status !== 0) {
    process.stderr.write(`spandsp: cannot build spandsp_dtmf.c (${(cc.stderr || String(cc.error)).trim()}); column n/a\n`);
    return null;
  }
  return (wav) => execFileSync(bin, { input: soxRaw(wav, 8000), encoding: 'utf8' }).trim();
}

function multimonDetector(): Detector | null {
  if (!has('multimon-ng', ['-h'])) {
    process.stderr.write('multimon-ng: not installed; column n/a\n');
    return null;
  }
  return (wav) => {
    const out = execFileSync('multimon-ng', ['-q', '-c', '-a', 'DTMF', '-t', 'raw', '-'], {
      input: soxRaw(wav, 22050),
      encoding: 'utf8',
    });
    return [...out.matchAll(/^DTMF: (.)$/gm)].map((m) => m[1]).join('');
  };
}

async function main(): Promise<void> {
  const verbose = process.argv.includes('--verbose');
  const asJson = process.argv.includes('--json');
  const cases: Case[] = readdirSync(CASES)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(CASES, f), 'utf8')) as Case);
  const tmp = mkdtempSync(join(tmpdir(), 'dtmf-compare-'));
  try {
    const ourResults = new Map<string, string>();
    for (const c of cases) {
      const events = await detectDtmfInFile(join(CASES, `${c.name}.wav`));
      ourResults.set(c.name, events.map((e) => e.digit).join(''));
    }
    const detectors: Array<[string, Detector | null]> = [
      ['ours', (wav) => ourResults.get(wav.slice(CASES.length + 1, -4)) ?? ''],
      ['spandsp', spandspDetector(tmp)],
      ['multimon-ng', multimonDetector()],
    ];

    interface Row {
      category: string;
      kind: Case['kind'];
      cases: number;
      seconds: number;
      score: Record<string, number | null>;
    }
    const rows = new Map<string, Row>();
    for (const c of cases) {
      const wav = join(CASES, `${c.name}.wav`);
      const seconds = soxRaw(wav, 8000).length / 16000;
      let row = rows.get(c.category);
      if (!row) {
        row = { category: c.category, kind: c.kind, cases: 0, seconds: 0, score: {} };
        rows.set(c.category, row);
      }
      row.cases++;
      row.seconds += seconds;
      const detail: string[] = [];
      for (const [name, det] of detectors) {
        if (!det) {
          row.score[name] = null;
          continue;
        }
        const got = det(wav) ?? '';
        const add = c.kind === 'talkoff' ? got.length : got === c.digits ? 1 : 0;
        row.score[name] = (row.score[name] ?? 0) + add;
        detail.push(`${name}=${JSON.stringify(got)}`);
      }
      if (verbose) process.stderr.write(`${c.name.padEnd(34)} want=${JSON.stringify(c.digits)} ${detail.join(' ')}\n`);
    }

    const names = detectors.map(([n]) => n);
    const order = { detect: 0, reject: 1, talkoff: 2 };
    const sorted = [...rows.values()].sort((a, b) => order[a.kind] - order[b.kind]);
    if (asJson) {
      process.stdout.write(`${JSON.stringify(sorted)}\n`);
      return;
    }
    const head = ['category', 'kind', 'cases', ...names];
    const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
    const totals: Record<string, number> = {};
    for (const r of sorted) {
      const cells = names.map((n) => {
        const s = r.score[n];
        if (s === null || s === undefined) return 'n/a';
        if (r.kind === 'talkoff') return `${s} false digits`;
        totals[n] = (totals[n] ?? 0) + s;
        return `${s}/${r.cases}`;
      });
      const what = r.kind === 'talkoff' ? `${r.cases} files, ${Math.round(r.seconds)} s` : String(r.cases);
      const kind = r.kind === 'detect' ? 'must detect' : r.kind === 'reject' ? 'must reject' : 'talk-off';
      lines.push(`| ${r.category} | ${kind} | ${what} | ${cells.join(' | ')} |`);
    }
    const scored = sorted.filter((r) => r.kind !== 'talkoff').reduce((a, r) => a + r.cases, 0);
    lines.push(`| **all detect/reject** | | ${scored} | ${names.map((n) => (n in totals ? `${totals[n]}/${scored}` : 'n/a')).join(' | ')} |`);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`dtmf-compare: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
