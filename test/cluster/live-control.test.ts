import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhoneSim } from '../../src/call/phone-sim.js';
import { type EngineHarness, startEngine } from '../engine-harness.js';
import { findPgBin, type PgCluster, startPgCluster } from '../store/pg-cluster.js';

const stores = findPgBin() ? ['sqlite', 'postgres'] : ['sqlite'];

/** One engine, on each store: hangup and transfer of a live call through the API (the store's control channel). */
describe.each(stores)('live call control through the API (%s)', (kind) => {
  let h: EngineHarness;
  let cluster: PgCluster | undefined;
  beforeAll(async () => {
    if (kind === 'postgres') cluster = await startPgCluster();
    h = await startEngine(cluster ? { DATABASE_URL: await cluster.newDatabase() } : {});
  });
  afterAll(async () => {
    await h.close();
    await cluster?.stop();
  });

  it('hangs up a live call; refuses unknown calls, ended calls and transfer targets the assistant lacks', async () => {
    const created = await h.api('POST', '/api/v1/assistants', {
      name: 'Desk',
      firstMessage: 'Hello.',
      hangup: { transferTargets: [{ name: 'sales', number: '+15550009999' }] },
    });
    const key = created.json.data.assistantApiKey as string;
    const sim = await PhoneSim.connect({
      url: `${h.base.replace(/^http/, 'ws')}/media/twilio/${key}`,
      protocol: 'twilio',
      callId: 'CA-live-1',
      from: '+15550001111',
      to: '+15550002222',
    });
    const frame = new Uint8Array(160).fill(0xff);
    const t = setInterval(() => (sim.closed ? clearInterval(t) : sim.sendFrame(frame)), 20);
    let id = '';
    for (let i = 0; i < 200 && !id; i++) {
      const r = await h.api('GET', '/api/v1/calls');
      id =
        (r.json.data.rows as Array<{ id: string; status: string }>).find((c) => c.status === 'in-progress')?.id ?? '';
      if (!id) await new Promise((r) => setTimeout(r, 50));
    }
    expect(id).toMatch(/^c_/);
    expect((await h.api('POST', '/api/v1/calls/c_nope/hangup', {})).status).toBe(404);
    const bad = await h.api('POST', `/api/v1/calls/${id}/transfer`, { target: '+19990000000' });
    expect(bad.status).toBe(422);
    const r = await h.api('POST', `/api/v1/calls/${id}/hangup`, {});
    expect(JSON.stringify(r.json)).toContain('requested');
    expect(r.json).toMatchObject({ status: 'success', data: { call_id: id, status: 'requested' } });
    expect(r.status).toBe(202);
    await sim.whenClosed;
    const [done] = await h.settledCalls();
    expect(done.status).toBe('completed');
    expect((await h.api('POST', `/api/v1/calls/${id}/hangup`, {})).status).toBe(409);
  });
});
