import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine.js';
import { header, type SipMessage, tagOf } from '../../src/sip/message.js';
import { type SipEngine, startSipEngine } from './engine.js';
import { TestUac } from './uac.js';

/**
 * A CANCEL racing the answer, against the whole engine (store included): the caller CANCELs 0 to 30 ms after its
 * INVITE. With the embedded store the engine answers within the same event-loop turn, so here the CANCEL comes
 * after the 200 (it gets 200 and has no effect; the caller ACKs and BYEs, RFC 3261 9.1); a CANCEL that lands while
 * the record is being created (a slow shared store) is the wire test's 'CANCEL during resolve' (server.test.ts).
 * Whatever the order, no call record is left live.
 */
const KEY = 'vek_test_sip_cancel_0123456789abcdefabcd';

describe('CANCEL racing the 200 OK', () => {
  let dir: string;
  let engine: Engine;
  let api: SipEngine['api'];
  let astKey: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 've-sip-cancel-'));
    ({ engine, api } = await startSipEngine(dir, KEY, [44000, 44999]));
    const created = await api('POST', '/api/v1/assistants', { name: 'Race', firstMessage: 'Hello.' });
    astKey = created.data.assistantApiKey as string;
  }, 60_000);

  afterAll(async () => {
    await engine?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('never leaves a record in progress, whichever of CANCEL and 200 comes first', async () => {
    const port = engine.sip!.port;
    const outcomes: number[] = [];
    for (const delay of [0, 0, 1, 2, 3, 5, 8, 12, 20, 30]) {
      const uac = await TestUac.open();
      const branch = uac.invite(astKey, port);
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      uac.cancel(astKey, port, branch);
      const final = await uac.wait(
        (m) => (m.status ?? 0) >= 200 && (header(m, 'cseq') ?? '').endsWith('INVITE'),
        10_000,
      );
      outcomes.push(final.status!);
      if (final.status === 200) {
        // Too late to cancel: the caller ACKs the 200 and hangs up (RFC 3261 9.1).
        const toTag = tagOf(header(final, 'to'))!;
        uac.inDialog('ACK', astKey, port, toTag, 1);
        uac.inDialog('BYE', astKey, port, toTag, 2);
        await uac.status(200, 'BYE');
      } else {
        expect(final.status).toBe(487);
      }
      // The CANCEL itself is answered either way: 200 (matched, or too late to matter).
      const cancelled: SipMessage = await uac.wait((m) => (header(m, 'cseq') ?? '').endsWith('CANCEL'));
      expect(cancelled.status).toBe(200);
      uac.close();
    }
    // Every record the race created is final (none ringing / in-progress), and the engine holds no call.
    let rows: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 100; i++) {
      const list = await api('GET', '/api/v1/calls');
      rows = (list.data.rows ?? list.data) as Array<Record<string, unknown>>;
      if (rows.every((r) => r.status !== 'in-progress' && r.status !== 'ringing')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const r of rows) expect(['completed', 'failed']).toContain(r.status);
    // Each answered call completed; a call CANCELled while its record was being created is closed as failed.
    expect(rows.filter((r) => r.status === 'completed').length).toBe(outcomes.filter((s) => s === 200).length);
    expect(engine.sip!.activeCalls).toBe(0);
    expect(rows.length).toBeGreaterThan(0);
  }, 60_000);
});
