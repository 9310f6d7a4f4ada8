import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AudioChunk } from '../../src/audio/format.js';
import { PhoneSim } from '../../src/call/phone-sim.js';
import { loadConfig } from '../../src/config.js';
import { createEngine, type Engine } from '../../src/engine.js';
import { silentLogger } from '../../src/log.js';
import { createProviderRegistry } from '../../src/providers/registry.js';
import type { TtsProvider } from '../../src/providers/types.js';

/**
 * A runtime PATCH reaches a live call by notification, not at the next turn: the real engine, the offline TTS
 * slowed by 300 ms a clause (so the greeting is still being synthesized when the PATCH lands), and every
 * synthesis request logged with the voice it asked for.
 */
const KEY = 'vek_live_change_key_0123456789abcdef';
const requests: { text: string; voice: string | undefined }[] = [];

let engine: Engine;
let base: string;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 've-live-'));
  const config = loadConfig({
    DATA_DIR: dir,
    PORTAL_EMAIL: 'ops@example.com',
    PORTAL_API_KEY: KEY,
    LOG_LEVEL: 'silent',
  });
  const real = createProviderRegistry(config, silentLogger);
  const providers = {
    ...real,
    tts(cfg: Parameters<typeof real.tts>[0], hooks: Parameters<typeof real.tts>[1]): TtsProvider {
      const inner = real.tts(cfg, hooks);
      return {
        id: inner.id,
        formats: inner.formats,
        async *synthesize(req, signal, timing): AsyncIterable<AudioChunk> {
          // One clause at a time is the call speaking; the whole text is the engine warming the greeting cache.
          if (req.text.split('.').length <= 2) requests.push({ text: req.text, voice: req.voice });
          await new Promise((r) => setTimeout(r, 300));
          yield* inner.synthesize(req, signal, timing);
        },
      };
    },
  };
  engine = await createEngine({ config, logger: silentLogger, print: () => {}, providers });
  base = (await engine.listen({ port: 0, host: '127.0.0.1' })).url;
});

afterAll(async () => {
  await engine?.close();
  await rm(dir, { recursive: true, force: true });
});

async function api(method: string, p: string, body?: unknown) {
  const res = await fetch(`${base}${p}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: (await res.json()) as { data: Record<string, unknown> } };
}

describe('live assistant changes', () => {
  it('a runtime PATCH during the greeting changes the voice from its next clause on', async () => {
    // A first message with a variable is never cached (no warm-up audio replaces the call's own synthesis).
    const sentences = [
      'Call {{callId}}.',
      'Two.',
      'Three.',
      'Four.',
      'Five.',
      'Six.',
      'Seven.',
      'Eight.',
      'Nine.',
      'Ten.',
    ];
    const created = await api('POST', '/api/v1/assistants', {
      firstMessage: sentences.join(' '),
      tts: { provider: 'offline', voice: 'kal16' },
    });
    const key = String(created.json.data.assistantApiKey);
    const sim = await PhoneSim.connect({
      url: `${base.replace(/^http/, 'ws')}/media/twilio/${key}`,
      protocol: 'twilio',
    });
    const silence = new Uint8Array(160).fill(0xff);
    const t = setInterval(() => {
      if (!sim.closed) sim.sendFrame(silence);
    }, 20);
    try {
      for (let i = 0; i < 250 && requests.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      expect(requests.length).toBeGreaterThanOrEqual(2);
      const patched = await api('PATCH', `/api/v1/assistants/${key}/runtime/tts`, {
        provider: 'offline',
        voice: 'slt',
      });
      expect(patched.status).toBe(200);
      const atPatch = requests.length;
      for (let i = 0; i < 500 && !requests.some((r) => r.text.startsWith('Ten')); i++)
        await new Promise((r) => setTimeout(r, 20));
      // The clauses synthesized before the PATCH kept the old voice; from the first clause after it was applied on,
      // every clause has the new one, within the same greeting (not from the next caller turn).
      const voices = requests.map((r) => r.voice);
      expect(voices.slice(0, atPatch).every((v) => v === 'kal16')).toBe(true);
      const switched = voices.indexOf('slt');
      expect(switched).toBeGreaterThanOrEqual(atPatch);
      expect(voices.slice(switched).every((v) => v === 'slt')).toBe(true);
      expect(requests.at(-1)!.text).toBe('Ten.');
    } finally {
      clearInterval(t);
      await sim.stop();
    }
  });
});
