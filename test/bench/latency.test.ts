import { describe, expect, it } from 'vitest';
import { run, table } from '../../bench/latency.js';
import { parseArgs } from '../../src/cli/args.js';

// Shape only (DESIGN.md section 7 contract) on a short run; the figures are what the bench prints, never asserted.
describe('bench latency', () => {
  it('returns the contract fields from real-speech calls through the real gateway (fast profile)', async () => {
    const lines: string[] = [];
    const r = await run({
      args: parseArgs(['latency', '--profile', 'fast', '--calls', '1', '--rounds', '1', '--no-adapters']),
      progress: (l) => lines.push(l),
    });
    expect(r.suite).toBe('latency');
    expect(r.profile).toBe('fast');
    expect(typeof r.turns).toBe('number');
    for (const k of ['overhead_ms', 'endpointing_ms', 'barge_in_ms', 'voice_to_voice_ms'] as const) {
      const s = r[k] as Record<string, number>;
      expect(Object.keys(s).sort()).toEqual(['p50', 'p95', 'p99']);
    }
    expect(r.hesitation_turns).toBe(1);
    expect(r.two_sentence_turns).toBe(1);
    expect(r.acknowledgements).toBe(1);
    expect(Object.keys(r.premature_cuts as object).sort()).toEqual(['hesitation', 'two_sentences']);
    expect(Object.keys(r.replies_taken_back as object).sort()).toEqual(['hesitation', 'two_sentences']);
    expect(r.preemptive_generation).toBe(true);
    expect(r.tts_path).toBe('scripted');
    // The engine's default VAD unless --vad says otherwise
    expect((r.settings as { vad: string }).vad).toBe('silero');
    expect(typeof r.ignored_turns).toBe('number');
    expect(typeof r.acknowledgements_stopped_agent).toBe('number');
    expect((r.greeting_ms as { cached: number[] }).cached).toHaveLength(3);
    expect(lines[0]).toContain('/media/twilio');
    expect(table(r)[0]).toEqual(['metric (ms), profile fast', 'p50', 'p95', 'p99', 'target']);
  }, 180_000);

  it('refuses an unknown profile, TTS path, preemptive value or VAD with a usage error', async () => {
    for (const bad of [
      ['--profile', 'warp'],
      ['--tts', 'carrier-pigeon'],
      ['--preemptive', 'maybe'],
      ['--vad', 'psychic'],
    ]) {
      await expect(run({ args: parseArgs(['latency', ...bad]), progress: () => undefined })).rejects.toMatchObject({
        exitCode: 2,
      });
    }
  });
});
