import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulawDecode } from '../src/audio/g711.js';
import { readWav } from '../src/audio/wav.js';
import { callFiles } from '../src/call-files.js';
import { type EngineHarness, PORTAL_KEY, startEngine } from './engine-harness.js';

/**
 * Issue 11, finding 2: per-call files are named by our call id under the tenant's directory. Three calls carry one
 * CallSid (tenant A, tenant B, then a retry in tenant A): each keeps its own complete recording, served only to its
 * tenant.
 */
describe('per-call files', () => {
  let e: EngineHarness;
  const SID = 'CA0123456789abcdef0123456789abcdef';

  beforeAll(async () => {
    e = await startEngine();
  });

  afterAll(async () => {
    await e.close();
  });

  it('refuses ids that are not ours as path parts', () => {
    expect(() => callFiles('/d', '../etc', 'c_1')).toThrow();
    expect(() => callFiles('/d', 'ten_1', 'CA/../../x')).toThrow();
    expect(callFiles('/d', 'ten_1', 'c_abc').recording).toBe(path.join('/d', 'recordings', 'ten_1', 'c_abc.wav'));
  });

  it('two tenants and a retry with one CallSid keep separate, complete recordings, each served only to its tenant', async () => {
    const b = await e.tenant('b@example.com');
    const mk = async (key: string) =>
      (await e.api('POST', '/api/v1/assistants', { name: 'rec', settings: { recordAudio: true } }, key)).json.data;
    const astA = await mk(PORTAL_KEY);
    const astB = await mk(b.key);
    // Each call's caller audio is one distinct mu-law value, so a recording shows whose audio it holds.
    const plan = [
      { key: PORTAL_KEY, tenantId: e.engine.firstTenantId!, ast: astA.assistantApiKey, fill: 0xe0 },
      { key: b.key, tenantId: b.id, ast: astB.assistantApiKey, fill: 0xd0 },
      { key: PORTAL_KEY, tenantId: e.engine.firstTenantId!, ast: astA.assistantApiKey, fill: 0xc0 },
    ];
    for (const p of plan) await e.twilioCall(p.ast, SID, 1200, p.fill);

    const callsA = await e.settledCalls(PORTAL_KEY);
    const callsB = await e.settledCalls(b.key);
    expect(callsA).toHaveLength(2);
    expect(callsB).toHaveLength(1);
    // Newest first: A's retry, then A's first call.
    const ordered = [callsA[1], callsB[0], callsA[0]];
    const ids = new Set(ordered.map((c) => c.id));
    expect(ids.size).toBe(3);
    for (const [i, call] of ordered.entries()) {
      const p = plan[i]!;
      expect(call.providerCallId ?? SID).toBe(SID);
      const rec = await e.bytes(`/api/v1/calls/${call.id}/recording`, p.key);
      expect(rec.status).toBe(200);
      const wav = readWav(rec.body);
      expect(wav.channels).toBe(2);
      const left = wav.samples;
      // Complete: about the 1.2 s of audio the caller sent (not a 44-byte header, not another call's length).
      expect(left.length).toBeGreaterThan(8000 * 0.8);
      expect(left.length).toBeLessThan(8000 * 2);
      const expected = mulawDecode(new Uint8Array([p.fill]), new Int16Array(1))[0];
      const own = left.filter((v) => v === expected).length;
      expect(own / left.length).toBeGreaterThan(0.9);
      // The file is named by our id under the tenant's directory.
      expect(fs.existsSync(path.join(e.dir, 'recordings', p.tenantId, `${call.id}.wav`))).toBe(true);
    }
    // Tenant B cannot fetch A's recording, nor A B's.
    expect((await e.bytes(`/api/v1/calls/${callsA[0].id}/recording`, b.key)).status).toBe(404);
    expect((await e.bytes(`/api/v1/calls/${callsB[0].id}/recording`, PORTAL_KEY)).status).toBe(404);
    // No file anywhere is named by the carrier's id.
    const all = fs.readdirSync(path.join(e.dir, 'recordings'), { recursive: true }).map(String);
    expect(all.some((f) => f.includes(SID))).toBe(false);
  }, 30_000);
});
