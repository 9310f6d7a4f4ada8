import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PhoneSim } from '../src/call/phone-sim.js';
import { loadConfig } from '../src/config.js';
import { createEngine } from '../src/engine.js';
import { silentLogger } from '../src/log.js';
import { openStore } from '../src/store/index.js';

/**
 * Graceful shutdown (DESIGN.md 9): while draining, /health answers 503 so a load balancer stops sending, a new
 * media stream is refused with 4050, and the call in progress carries on until it ends by itself.
 */
const KEY = 'vek_test_drain_key_0123456789abcdef';

describe('engine drain', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('refuses new calls, reports draining, and lets the call in progress finish', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 've-drain-'));
    dirs.push(dir);
    const config = loadConfig({ DATA_DIR: dir, PORTAL_API_KEY: KEY, LOG_LEVEL: 'silent' });
    const engine = await createEngine({ config, logger: silentLogger, print: () => {}, drainTimeoutMs: 20_000 });
    const { url } = await engine.listen({ port: 0, host: '127.0.0.1' });
    const ws = url.replace(/^http/, 'ws');
    const tenantId = engine.firstTenantId!;
    const a = await engine.store.assistants.create(tenantId, {
      firstMessage: 'Hello.',
      dtmf: { menu: { '9': { reply: 'Bye.', hangup: true } } },
    });

    const sim = await PhoneSim.connect({ url: `${ws}/media/twilio/${a.assistantApiKey}`, protocol: 'twilio' });
    const silence = new Uint8Array(160).fill(0xff);
    const frames = setInterval(() => {
      if (!sim.closed) sim.sendFrame(silence);
    }, 20);
    try {
      while (engine.sessions.size === 0) await new Promise((r) => setTimeout(r, 20));
      expect((await fetch(`${url}/health`)).status).toBe(200);

      const closing = engine.close();
      let closed = false;
      void closing.then(() => {
        closed = true;
      });
      expect((await fetch(`${url}/health`)).status).toBe(503);

      const late = await PhoneSim.connect({ url: `${ws}/media/twilio/${a.assistantApiKey}`, protocol: 'twilio' });
      expect((await late.whenClosed).code).toBe(4050);

      // The call in progress is untouched: it still answers the caller, then ends on its own.
      expect(closed).toBe(false);
      expect(sim.closed).toBe(false);
      sim.sendDtmf('9');
      await sim.whenClosed;
      await closing;
      expect(engine.sessions.size).toBe(0);
      // Everything the call wrote is on disk before close() resolves.
      const store = openStore({ dataDir: dir });
      try {
        const calls = await store.calls.list(tenantId, {});
        expect(calls.rows.map((c) => c.status)).toEqual(['completed']);
        // The key press as received, then the menu action it triggered.
        const dtmf = calls.rows[0]!.dtmf;
        expect(dtmf.find((d) => d.source === 'protocol')?.digit).toBe('9');
        expect(dtmf.find((d) => d.menu === true)?.digit).toBe('9');
      } finally {
        store.close();
      }
    } finally {
      clearInterval(frames);
    }
  });
});
