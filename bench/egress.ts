/**
 * Cost of the SSRF egress guard (src/net/egress.ts), so nobody has to guess whether it belongs on a hot path:
 * - check_url_ns: one configuration-time checkUrl (URL parse + range match), ns per call;
 * - per request to a loopback HTTP server, sequential: plain fetch vs the guarded fetch, both keep-alive
 *   (the guard costs a URL parse and a range check per request), and the guarded fetch with `connection: close`
 *   to a host name (a new socket each time, so the guarded lookup runs on every request; the resolver is an
 *   injected in-memory one so DNS time is not measured).
 * Wall-clock figures on a shared machine: compare the rows with each other, not with other runs.
 * Run: `npx tsx bench/egress.ts` (or as a bench suite once registered in src/cli/bench.ts).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { BenchContext } from '../src/cli/bench.js';
import { checkUrl, createGuardedFetch, type LookupFn } from '../src/net/egress.js';

export interface EgressBenchResult {
  suite: 'egress';
  check_url_ns: number;
  requests: number;
  rows: Array<{ name: string; mean_ms: number; p50_ms: number; p95_ms: number }>;
  [key: string]: unknown;
}

function stats(name: string, ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  const r3 = (v: number) => Math.round(v * 1000) / 1000;
  return { name, mean_ms: r3(s.reduce((a, b) => a + b, 0) / s.length), p50_ms: r3(at(0.5)), p95_ms: r3(at(0.95)) };
}

async function timeRequests(n: number, once: () => Promise<void>): Promise<number[]> {
  for (let i = 0; i < 20; i++) await once(); // warm-up: JIT, first connection
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await once();
    out.push(performance.now() - t);
  }
  return out;
}

export async function run(ctx: BenchContext): Promise<EgressBenchResult> {
  const fast = ctx.args.flags.fast === true;
  const policy = { blockPrivate: false };
  const urls = [
    'https://hooks.example.com/a?b=1',
    'http://10.1.2.3:8080/x',
    'http://[::ffff:a9fe:a9fe]/',
    'http://2852039166/',
  ];
  const iterations = fast ? 20_000 : 200_000;
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink += checkUrl(urls[i & 3]!, policy)?.length ?? 0;
  const checkUrlNs = Number(process.hrtime.bigint() - t0) / iterations;
  if (sink < 0) ctx.progress('unreachable');
  ctx.progress(`checkUrl: ${checkUrlNs.toFixed(0)} ns/call`);

  const server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const lookup: LookupFn = (_h, _o, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }]);
  const guarded = createGuardedFetch(policy, fetch, { lookup });
  const n = fast ? 200 : 1000;
  const rows = [];
  try {
    const body = async (p: Promise<Response>) => void (await (await p).text());
    rows.push(stats('plain fetch, keep-alive', await timeRequests(n, () => body(fetch(`http://127.0.0.1:${port}/`)))));
    rows.push(
      stats('guarded fetch, keep-alive', await timeRequests(n, () => body(guarded(`http://127.0.0.1:${port}/`)))),
    );
    rows.push(
      stats(
        'guarded fetch, new connection + lookup',
        await timeRequests(n, () =>
          body(guarded(`http://bench.example:${port}/`, { headers: { connection: 'close' } })),
        ),
      ),
    );
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
  for (const r of rows) ctx.progress(`${r.name}: mean ${r.mean_ms} ms, p50 ${r.p50_ms} ms, p95 ${r.p95_ms} ms`);
  return { suite: 'egress', check_url_ns: Math.round(checkUrlNs), requests: n, rows };
}

export function table(result: Record<string, unknown>): string[][] {
  const r = result as EgressBenchResult;
  return [
    ['measure', 'mean ms', 'p50 ms', 'p95 ms'],
    ['checkUrl (ns/call)', String(r.check_url_ns), '', ''],
    ...r.rows.map((x) => [x.name, String(x.mean_ms), String(x.p50_ms), String(x.p95_ms)]),
  ];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const fast = process.argv.includes('--fast');
  const ctx = {
    args: { positional: [], flags: { fast } },
    progress: (l: string) => process.stderr.write(`${l}\n`),
  } as unknown as BenchContext;
  run(ctx).then((r) => process.stdout.write(`${JSON.stringify(r)}\n`));
}
