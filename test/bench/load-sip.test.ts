/**
 * `voice-engine bench load --protocol sip` as a user runs it: SIPp (Debian's sip-tester) calls the engine's SIP user
 * agent with RTP and an RFC 2833 digit from pcap; one JSON object with the figures. Tiny N and shape only: timing
 * figures are what the bench prints, never asserted (noisy shared machine).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSippRtt, parseSippStat, SIPP } from '../../bench/load-sip.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const run = promisify(execFile);
const out = mkdtempSync(path.join(os.tmpdir(), 've-bench-sip-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('bench load --protocol sip', () => {
  it('reads SIPp statistics files (last -trace_stat row, -trace_rtt response times)', () => {
    const stat = parseSippStat(
      'StartTime;OutgoingCall(C);SuccessfulCall(C);FailedCall(C);\n' +
        '2026-12-07 00:00:00;1;0;0;\n2026-12-07 00:00:09;3;2;1;\n',
    );
    expect(stat).toMatchObject({ 'OutgoingCall(C)': '3', 'SuccessfulCall(C)': '2', 'FailedCall(C)': '1' });
    expect(parseSippRtt('Date_ms;date_sec;response_time_ms;rtd_no\n1.5;0.0015;2.25;1\n3;0.003;4;1\n')).toEqual([
      2.25, 4,
    ]);
    expect(parseSippStat('')).toEqual({});
  });

  it.skipIf(!existsSync(SIPP))(
    'SIPp places calls with pcap RTP and DTMF; one JSON object with calls per core, lag p99 and failed calls',
    async () => {
      // execFile rejects (with SIPp's or the bench's stderr) on a non-zero exit.
      const r = await run(
        TSX,
        ['src/cli/index.ts', 'bench', 'load', '--protocol', 'sip', '--calls', '2', '--json', '--out', out],
        {
          cwd: ROOT,
        },
      );
      expect(r.stdout.trim().split('\n')).toHaveLength(1);
      const j = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(j).toMatchObject({ suite: 'load', protocol: 'sip', calls: 2 });
      // SIPp's own counts were read: every call it placed is counted as ok or failed.
      expect(Number(j.calls_ok) + Number(j.calls_failed)).toBe(2);
      expect(Number(j.calls_ok)).toBeGreaterThan(0);
      for (const k of ['cpu_pct', 'rss_mb', 'dtmf_received', 'rtp_frames_in', 'rtp_frames_out', 'peak_concurrent'])
        expect(typeof j[k], k).toBe('number');
      // RTP from the pcap reached the engine and its echo went back.
      expect(Number(j.rtp_frames_in)).toBeGreaterThan(0);
      expect(Number(j.rtp_frames_out)).toBeGreaterThan(0);
      expect(j.calls_per_core === null || typeof j.calls_per_core === 'number').toBe(true);
      expect(Object.keys(j.lag_ms as object)).toEqual(expect.arrayContaining(['p50', 'p99', 'max']));
      expect(Object.keys(j.setup_ms as object)).toEqual(expect.arrayContaining(['p50', 'p99']));
      // DESIGN.md section 7's load fields.
      expect(Object.keys(j.jitter_ms as object)).toContain('p99');
      for (const k of ['dropped_frames', 'max_calls_under_20ms_p99']) expect(k in j, k).toBe(true);
      const saved = JSON.parse(readFileSync(path.join(out, 'load.json'), 'utf8')) as Record<string, unknown>;
      expect(String(saved.command)).toContain('bench load --protocol sip');
    },
    120_000,
  );
});
