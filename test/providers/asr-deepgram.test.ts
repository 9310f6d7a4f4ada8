import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DeepgramFake, startDeepgramFake } from '../../bench/fakes/deepgram.js';
import { scriptHearing } from '../../bench/fakes/script-hearing.js';
import { MULAW_8K } from '../../src/audio/format.js';
import { DeepgramAsr } from '../../src/providers/asr/deepgram.js';
import type { Incident } from '../../src/providers/resilience.js';
import { resilientAsr } from '../../src/providers/resilient-asr.js';
import { type AsrEvent, ProviderError } from '../../src/providers/types.js';

const FRAME = new Uint8Array(160).fill(0xff); // 20 ms of mu-law 8 kHz silence-level bytes

function until(events: AsrEvent[], pred: (e: AsrEvent[]) => boolean, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = () => {
      if (pred(events)) return resolve();
      if (Date.now() - start > ms)
        return reject(new Error(`condition not met; events: ${JSON.stringify(events.map((e) => e.type))}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

describe('deepgram live asr against the loopback fake', () => {
  let fake: DeepgramFake;
  beforeEach(async () => {
    fake = await startDeepgramFake({
      transcripts: ['hello world', 'book a table'],
      utteranceMs: 200,
      slowFirstByteMs: 1500,
    });
  });
  afterEach(() => fake.close());
  const dg = (over: Partial<ConstructorParameters<typeof DeepgramAsr>[0]> = {}) =>
    new DeepgramAsr({ apiKey: 'dg-test', baseUrl: fake.url, keepAliveMs: 60, ...over });

  it('passes mu-law 8 kHz through and maps Results / SpeechStarted; one keyterm parameter per term; KeepAlive in silence; CloseStream', async () => {
    const events: AsrEvent[] = [];
    const stream = await dg().open(
      { format: MULAW_8K, keyterms: ['Acme', 'booking'], utteranceEndMs: 1000, endpointingMs: 250 },
      (e) => events.push(e),
    );
    const q = fake.requests[0]!.query;
    expect(q).toMatchObject({
      encoding: 'mulaw',
      sample_rate: '8000',
      interim_results: 'true',
      vad_events: 'true',
      utterance_end_ms: '1000',
      endpointing: '250',
      keyterm: ['Acme', 'booking'],
    });
    expect(fake.requests[0]!.headers.authorization).toBe('Token dg-test');
    for (let i = 0; i < 10; i++) stream.write(FRAME); // 200 ms = one scripted utterance
    await until(events, (es) => es.some((e) => e.type === 'final'));
    // no UtteranceEnd: the speech runs on into the next utterance (Deepgram waits utterance_end_ms after a word)
    expect(events.map((e) => e.type)).toEqual(['speech_started', 'partial', 'final']);
    const final = events.find((e) => e.type === 'final')!;
    expect(final).toMatchObject({ text: 'hello world', speechFinal: true });
    if (final.type === 'final') expect(final.words.map((w) => w.word)).toEqual(['hello', 'world']);
    await until(events, () => fake.keepAlives > 0);
    for (let i = 0; i < 3; i++) stream.write(FRAME);
    stream.finalize();
    await until(events, (es) => es.filter((e) => e.type === 'final').length === 2);
    expect(fake.finalizes).toBe(1);
    await stream.close();
    await stream.close(); // idempotent
    expect(events.at(-1)).toEqual({ type: 'closed' });
    expect(stream.timing.firstByteAt).toBeGreaterThanOrEqual(stream.timing.requestSentAt!);
  });

  it('reconnects after a dropped socket and sends the audio written during the gap', async () => {
    const events: AsrEvent[] = [];
    fake.faults.push('drop');
    const stream = await dg().open({ format: MULAW_8K }, (e) => events.push(e));
    for (let i = 0; i < 10; i++) stream.write(FRAME);
    await until(events, (es) => es.some((e) => e.type === 'final'));
    // written once the client is between sockets (the server has the reconnect's upgrade request; before that the
    // client may not have seen the drop yet and would write into the dead socket): buffered, sent on the new one
    await until(events, () => fake.requests.filter((r) => r.path === '/v1/listen').length === 2);
    for (let i = 0; i < 10; i++) stream.write(FRAME);
    await until(events, (es) => es.filter((e) => e.type === 'final').length === 2);
    expect(fake.requests.filter((r) => r.path === '/v1/listen').length).toBe(2);
    expect(fake.audioBytes).toBe(20 * 160);
    const second = events.filter((e) => e.type === 'final')[1]!;
    // timings continue across sockets: the second utterance starts after the first 200 ms
    if (second.type === 'final') expect(second.words[0]!.startMs).toBeGreaterThanOrEqual(200);
    expect(events.some((e) => e.type === 'error')).toBe(false);
    await stream.close();
  });

  it('a malformed frame is a non-fatal typed error event and the stream goes on', async () => {
    const events: AsrEvent[] = [];
    fake.faults.push('malformed');
    const stream = await dg().open({ format: MULAW_8K }, (e) => events.push(e));
    for (let i = 0; i < 10; i++) stream.write(FRAME);
    await until(events, (es) => es.some((e) => e.type === 'error'));
    for (let i = 0; i < 10; i++) stream.write(FRAME);
    await until(events, (es) => es.filter((e) => e.type === 'final').length === 2);
    const err = events.find((e) => e.type === 'error');
    expect(err).toMatchObject({ type: 'error', fatal: false, error: { code: 'malformed' } });
    await stream.close();
  });

  it('401 at connect is an auth error (not retried); no key in the message', async () => {
    const incidents: Incident[] = [];
    const asr = resilientAsr([dg({ apiKey: 'dg-wrong-key' })], {
      baseDelayMs: 5,
      onIncident: (i) => incidents.push(i),
    });
    const err = await asr.open({ format: MULAW_8K }, () => {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).code).toBe('auth');
    expect((err as ProviderError).message).not.toContain('dg-wrong-key');
    expect(incidents.map((i) => i.action)).toEqual(['failed']);
  });

  it('429 and 500 at connect are retried with backoff', async () => {
    fake.faults.push('rate_limited', 'server_error');
    const incidents: Incident[] = [];
    const events: AsrEvent[] = [];
    const stream = await resilientAsr([dg()], { baseDelayMs: 5, onIncident: (i) => incidents.push(i) }).open(
      { format: MULAW_8K },
      (e) => events.push(e),
    );
    expect(incidents.map((i) => `${i.action}:${i.code}`)).toEqual(['retry:rate_limited', 'retry:server']);
    for (let i = 0; i < 10; i++) stream.write(FRAME);
    await until(events, (es) => es.some((e) => e.type === 'final'));
    await stream.close();
  });

  it('a slow connect times out and falls back to the next provider in the chain', async () => {
    fake.faults.push('slow_first_byte');
    const incidents: Incident[] = [];
    const events: AsrEvent[] = [];
    const chain = resilientAsr([dg(), dg({ model: 'nova-2' })], {
      connectTimeoutMs: 300,
      maxRetries: 0,
      onIncident: (i) => incidents.push(i),
    });
    const stream = await chain.open({ format: MULAW_8K }, (e) => events.push(e));
    expect(incidents).toMatchObject([{ provider: 'deepgram', code: 'timeout', action: 'fallback' }]);
    for (let i = 0; i < 10; i++) stream.write(FRAME);
    await until(events, (es) => es.some((e) => e.type === 'final'));
    await stream.close();
  });

  it('gives up after maxReconnects with a fatal error event and closes', async () => {
    const events: AsrEvent[] = [];
    const stream = await dg({ maxReconnects: 2 }).open({ format: MULAW_8K }, (e) => events.push(e));
    fake.faults.push('unauthorized');
    for (const s of fake.sockets) s.terminate();
    await until(events, (es) => es.some((e) => e.type === 'closed'));
    expect(events.find((e) => e.type === 'error')).toMatchObject({ fatal: true, error: { code: 'auth' } });
    await stream.close();
  });
});

describe('asr fallback chain mid-stream', () => {
  it('a primary that cannot reconnect hands the stream to the next provider; later audio reaches it', async () => {
    const primary = await startDeepgramFake({ transcripts: ['from primary'], utteranceMs: 200 });
    const backup = await startDeepgramFake({ transcripts: ['from backup'], utteranceMs: 200 });
    try {
      const events: AsrEvent[] = [];
      const incidents: Incident[] = [];
      const chain = resilientAsr(
        [
          new DeepgramAsr({ apiKey: 'dg-test', baseUrl: primary.url, maxReconnects: 1 }),
          new DeepgramAsr({ apiKey: 'dg-test', baseUrl: backup.url }),
        ],
        { baseDelayMs: 5, onIncident: (i) => incidents.push(i) },
      );
      const stream = await chain.open({ format: MULAW_8K }, (e) => events.push(e));
      for (let i = 0; i < 10; i++) stream.write(FRAME);
      await until(events, (es) => es.some((e) => e.type === 'final'));
      primary.faults.push('server_error', 'server_error');
      for (const s of primary.sockets) s.terminate();
      await until(events, () => incidents.some((i) => i.action === 'fallback'));
      for (let i = 0; i < 10; i++) stream.write(FRAME);
      await until(events, (es) => es.filter((e) => e.type === 'final').length === 2);
      expect(events.filter((e) => e.type === 'final').map((e) => (e.type === 'final' ? e.text : ''))).toEqual([
        'from primary',
        'from backup',
      ]);
      expect(incidents).toMatchObject([{ provider: 'deepgram', code: 'server', action: 'fallback' }]);
      expect(events.some((e) => e.type === 'closed')).toBe(false);
      await stream.close();
      expect(backup.audioBytes).toBe(10 * 160);
    } finally {
      await primary.close();
      await backup.close();
    }
  });
});

describe('deepgram fake with energy segmentation (what the latency bench uses)', () => {
  it('utterances follow the loud stretches: SpeechStarted, interim, final at endpointing, UtteranceEnd', async () => {
    const fake = await startDeepgramFake({ transcripts: ['first', 'second'], segmentation: 'energy' });
    try {
      const events: AsrEvent[] = [];
      const stream = await new DeepgramAsr({ apiKey: 'dg-test', baseUrl: fake.url }).open(
        { format: MULAW_8K, endpointingMs: 100, utteranceEndMs: 1000 },
        (e) => events.push(e),
      );
      const LOUD = new Uint8Array(160).fill(0x80); // mu-law near full scale
      const write = (frame: Uint8Array, n: number) => {
        for (let i = 0; i < n; i++) stream.write(frame);
      };
      write(FRAME, 25); // 500 ms of silence: nothing is heard
      write(LOUD, 30); // 600 ms of speech
      write(FRAME, 60); // 1.2 s of silence: final after 100 ms, UtteranceEnd after 1000 ms
      write(LOUD, 10);
      write(FRAME, 10);
      await until(events, (es) => es.filter((e) => e.type === 'final').length === 2);
      expect(events.map((e) => e.type)).toEqual([
        'speech_started',
        'partial',
        'final',
        'utterance_end',
        'speech_started',
        'final',
      ]);
      const [s1, , f1] = events;
      expect(s1).toEqual({ type: 'speech_started', atMs: 500 });
      if (f1?.type === 'final') {
        expect(f1).toMatchObject({ text: 'first', speechFinal: true });
        expect(f1.words[0]!.startMs).toBe(500);
        expect(f1.words.at(-1)!.endMs).toBe(1100);
      }
      expect(events[3]).toEqual({ type: 'utterance_end', lastWordEndMs: 1100 });
      await stream.close();
    } finally {
      await fake.close();
    }
  });
});

describe('deepgram fake that hears a known caller script (what the full-path load bench uses)', () => {
  it('each final has the words said in its stretch of audio, once, wherever in the looped script the stream starts', async () => {
    // The script: 1 s silence, "book a table" (800 ms), 1 s silence, "for two please" (800 ms), 1 s silence.
    let seed = 7;
    const loud = (ms: number) =>
      Uint8Array.from({ length: ms * 8 }, () => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return (seed >> 16) & 0x1f; // mu-law codes near full scale, never the same run twice
      });
    const quiet = (ms: number) => new Uint8Array(ms * 8).fill(0xff);
    const script = Buffer.concat([quiet(1000), loud(800), quiet(1000), loud(800), quiet(1000)]);
    const parts = [
      { text: 'book a table', startMs: 1000, endMs: 1800 },
      { text: 'for two please', startMs: 2800, endMs: 3600 },
    ];
    const fake = await startDeepgramFake({ segmentation: 'energy', hear: scriptHearing([{ mulaw: script, parts }]) });
    try {
      const events: AsrEvent[] = [];
      const stream = await new DeepgramAsr({ apiKey: 'dg-test', baseUrl: fake.url }).open(
        { format: MULAW_8K, endpointingMs: 100, interimResults: true },
        (e) => events.push(e),
      );
      // The recognizer stream starts 2 s into the script (a stream reopened mid-call) and runs on into a third loop.
      const audio = Buffer.concat([script.subarray(2000 * 8), script, script.subarray(0, 3800 * 8)]);
      for (let i = 0; i + 160 <= audio.length; i += 160) stream.write(audio.subarray(i, i + 160));
      await until(events, (es) => es.filter((e) => e.type === 'final').length === 5);
      const finals = events.flatMap((e) => (e.type === 'final' ? [e.text] : []));
      expect(finals).toEqual(['for two please', 'book a table', 'for two please', 'book a table', 'for two please']);
      // Interims carry the words said so far, never words from another stretch.
      for (const e of events) if (e.type === 'partial') expect(['for', 'for two', 'book', 'book a']).toContain(e.text);
      await stream.close();
    } finally {
      await fake.close();
    }
  });
});
