import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhoneSim } from '../../src/call/phone-sim.js';
import { Pacer } from '../../src/telephony/pacer.js';
import { type EngineHarness, PORTAL_KEY, startEngine } from '../engine-harness.js';

/**
 * Issue 11, finding 5, against the whole engine: a chunked multipart upload over the 20 MiB limit is refused with
 * 413 and stores nothing; a 20 MB document is indexed while a live call is paced, and the pacer lag during the
 * upload is printed next to a baseline from the same run (no timing assertion: the machine is shared and noisy).
 */
const LIMIT = 20 * 2 ** 20;

function chunkedMultipart(
  base: string,
  path: string,
  name: string,
  total: number,
): Promise<{ status: number; body: string }> {
  const boundary = `----ve${Date.now()}`;
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${PORTAL_KEY}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString('utf8');
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    // No content-length: Node sends Transfer-Encoding: chunked.
    req.write(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: text/plain\r\n\r\n`,
    );
    const line = Buffer.from(`${'lorem ipsum dolor sit amet '.repeat(3)}\n`);
    const piece = Buffer.alloc(2 ** 20);
    for (let i = 0; i < piece.length; i += line.length) line.copy(piece, i);
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        const n = Math.min(piece.length, total - sent);
        sent += n;
        if (!req.write(piece.subarray(0, n))) return void req.once('drain', pump);
      }
      req.end(`\r\n--${boundary}--\r\n`);
    };
    pump();
  });
}

/** A Markdown document of about `bytes`: sections of paragraphs, like a product manual. */
function bigDocument(bytes: number): Buffer {
  const parts: string[] = [];
  let n = 0;
  for (let s = 0; n < bytes; s++) {
    const section = `## Section ${s}\n\n`;
    const para =
      `Item ${s} ships in ${s % 9} days to zone ${s % 13}; returns within ${s % 30} days are refunded in full. `.repeat(
        6,
      );
    parts.push(section, para, '\n\n');
    n += section.length + para.length + 2;
  }
  return Buffer.from(parts.join(''));
}

function upload(base: string, collection: string, name: string, content: Buffer) {
  const form = new FormData();
  form.append('file', new Blob([content], { type: 'text/markdown' }), name);
  return fetch(`${base}/api/v1/rag/collections/${collection}/documents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${PORTAL_KEY}` },
    body: form,
  });
}

/** Lateness of each 10 ms tick of a pacer on this event loop (the engine's pacer runs on the same one), ms. */
function measureLag(): { stop(): number[] } {
  const late: number[] = [];
  const pacer = new Pacer({ onTickLate: (ms) => late.push(ms) });
  const leg = { pump() {} };
  pacer.add(leg);
  return {
    stop() {
      pacer.remove(leg);
      return late;
    },
  };
}

const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)] ?? 0;

describe('uploads', () => {
  let e: EngineHarness;

  beforeAll(async () => {
    e = await startEngine();
  });

  afterAll(async () => {
    await e.close();
  });

  it('refuses a chunked multipart upload over the limit with 413 and stores nothing', async () => {
    const r = await chunkedMultipart(e.base, '/api/v1/rag/collections/big/documents', 'big.txt', LIMIT + 2 ** 20);
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).error.code).toBe('PAYLOAD_TOO_LARGE');
    const docs = await e.api('GET', '/api/v1/rag/collections/big/documents');
    expect(docs.json.data ?? []).toEqual([]);
  }, 60_000);

  it('indexes a 20 MB document while a live call is paced, and reports the pacer lag it caused', async () => {
    const ast = (await e.api('POST', '/api/v1/assistants', { name: 'echo', mode: 'echo' })).json.data;
    const sim = await PhoneSim.connect({
      url: `${e.base.replace(/^http/, 'ws')}/media/twilio/${ast.assistantApiKey}`,
      protocol: 'twilio',
    });
    const frame = new Uint8Array(160).fill(0xe0);
    const frames = setInterval(() => sim.sendFrame(frame), 20);
    try {
      const doc = bigDocument(LIMIT - 2 ** 20);
      let m = measureLag();
      await new Promise((r) => setTimeout(r, 3000));
      const baseline = m.stop();
      m = measureLag();
      const res = await upload(e.base, 'manual', 'manual.md', doc);
      const during = m.stop();
      expect(res.status).toBe(201);
      const info = ((await res.json()) as { data: { chunks: number; bytes: number } }).data;
      expect(info.bytes).toBe(doc.length);
      expect(info.chunks).toBeGreaterThan(1000);
      const figures = {
        baselineP99: p99(baseline),
        duringP99: p99(during),
        duringMax: Math.max(...during),
        ticks: during.length,
      };
      console.log(`pacer lag during a ${(doc.length / 1e6).toFixed(1)} MB upload (ms): ${JSON.stringify(figures)}`);
      // Report only (no timing assertion on a shared machine): everything heavy runs on the document worker
      // (src/rag/doc-worker.ts); the figure on a quiet machine comes from `bench rag` (README, Knowledge base).
      expect(figures.ticks).toBeGreaterThan(0);
    } finally {
      clearInterval(frames);
      await sim.stop();
    }
  }, 180_000);
});
