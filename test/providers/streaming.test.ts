/**
 * Streaming features against the stricter fakes: Deepgram's Aura speak WebSocket (Flush at clause ends, Clear on
 * barge-in, one socket per call), Flux end-of-turn events, ElevenLabs previous_text / next_text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DeepgramFake, startDeepgramFake } from '../../bench/fakes/deepgram.js';
import { startElevenLabsFake } from '../../bench/fakes/elevenlabs.js';
import { type AudioChunk, MULAW_8K } from '../../src/audio/format.js';
import { DeepgramAsr } from '../../src/providers/asr/deepgram.js';
import { DeepgramTts } from '../../src/providers/tts/deepgram.js';
import { ElevenLabsTts } from '../../src/providers/tts/elevenlabs.js';
import type { AsrEvent } from '../../src/providers/types.js';
import { drain, signal, until } from './stream-helpers.js';

const bytes = (cs: AudioChunk[]) => cs.reduce((n, c) => n + c.data.length, 0);
const ms = (text: string) => Math.max(200, text.length * 60);

describe('deepgram aura speak WebSocket', () => {
  let dg: DeepgramFake;
  beforeAll(async () => {
    dg = await startDeepgramFake({ chunkMs: 20 });
  });
  afterAll(() => dg.close());

  it('Speak per push, Flush at clause ends and at the end; audio until the last Flushed; the socket is reused', async () => {
    const tts = new DeepgramTts({ apiKey: 'dg-test', baseUrl: dg.url });
    const s = tts.openTextStream!({ format: MULAW_8K, speed: 1.2 }, signal());
    s.pushText('Hello there. ');
    s.pushText('How can I ');
    s.pushText('help?');
    s.end();
    const audio = await drain(s.audio);
    expect(bytes(audio)).toBe((8000 * (ms('Hello there. ') + ms('How can I help?'))) / 1000);
    expect(dg.speakMessages).toEqual([
      { type: 'Speak', text: 'Hello there. ' },
      { type: 'Flush' },
      { type: 'Speak', text: 'How can I ' },
      { type: 'Speak', text: 'help?' },
      { type: 'Flush' },
      { type: 'Flush' },
    ]);
    const req = dg.requests.find((r) => r.path === '/v1/speak' && r.method === 'GET')!;
    expect(req.query).toMatchObject({
      encoding: 'mulaw',
      sample_rate: '8000',
      speed: '1.2',
      model: 'aura-2-thalia-en',
    });
    const again = tts.openTextStream!({ format: MULAW_8K, speed: 1.2 }, signal());
    again.pushText('Bye.');
    again.end();
    expect(bytes(await drain(again.audio))).toBe((8000 * ms('Bye.')) / 1000);
    expect(dg.requests.filter((r) => r.path === '/v1/speak' && r.method === 'GET').length).toBe(1);
  });

  it('barge-in sends Clear: the utterance ends, stale audio is dropped, the next utterance plays whole', async () => {
    const tts = new DeepgramTts({ apiKey: 'dg-test', baseUrl: dg.url });
    const ctrl = new AbortController();
    const s = tts.openTextStream!({ format: MULAW_8K }, ctrl.signal);
    s.pushText('A long answer the caller will interrupt right in the middle of it.');
    s.end();
    const it = s.audio[Symbol.asyncIterator]();
    await it.next();
    ctrl.abort();
    expect((await it.next()).done).toBe(true);
    await until(() => dg.speakMessages.some((m) => m.type === 'Clear'));
    const next = tts.openTextStream!({ format: MULAW_8K }, signal());
    next.pushText('Yes?');
    next.end();
    expect(bytes(await drain(next.audio))).toBe((8000 * ms('Yes?')) / 1000);
  });

  it('a bad key fails the utterance with an auth error at the upgrade', async () => {
    const s = new DeepgramTts({ apiKey: 'dg-wrong', baseUrl: dg.url }).openTextStream!({ format: MULAW_8K }, signal());
    s.pushText('Hi.');
    s.end();
    const err = (await drain(s.audio).catch((e: unknown) => e)) as { code: string };
    expect(err.code).toBe('auth');
  });
});

describe('deepgram flux (/v2/listen)', () => {
  const FRAME = new Uint8Array(160).fill(0xff);

  it('a flux model goes to /v2/listen; EndOfTurn is a speech-final final plus utterance_end; capabilities say so', async () => {
    const dg = await startDeepgramFake({ utteranceMs: 400, transcripts: ['book a table'] });
    try {
      const asr = new DeepgramAsr({ apiKey: 'dg-test', baseUrl: dg.url, model: 'flux-general-en' });
      expect(asr.capabilities).toEqual({ endOfTurn: true, eagerEndOfTurn: true, interim: true });
      const events: AsrEvent[] = [];
      const s = await asr.open({ format: MULAW_8K, keyterms: ['table', 'Acme'] }, (e) => events.push(e));
      for (let i = 0; i < 20; i++) s.write(FRAME);
      await until(() => events.some((e) => e.type === 'utterance_end'));
      expect(events.map((e) => e.type)).toEqual(['speech_started', 'partial', 'final', 'utterance_end']);
      expect(events[2]).toMatchObject({ type: 'final', text: 'book a table', speechFinal: true });
      const req = dg.requests.find((r) => r.path === '/v2/listen')!;
      expect(req.query).toMatchObject({ model: 'flux-general-en', encoding: 'mulaw', sample_rate: '8000' });
      expect(req.query.keyterm).toEqual(['table', 'Acme']);
      expect(req.query.eager_eot_threshold).toBeUndefined();
      s.finalize(); // no-op on Flux
      await s.close();
      expect(events.at(-1)).toEqual({ type: 'closed' });
    } finally {
      await dg.close();
    }
  });

  it('eagerEndOfTurn asks eager_eot_threshold and maps EagerEndOfTurn / TurnResumed', async () => {
    const dg = await startDeepgramFake({ utteranceMs: 400, transcripts: ['what time do you open'], fluxResume: true });
    try {
      const events: AsrEvent[] = [];
      const s = await new DeepgramAsr({ apiKey: 'dg-test', baseUrl: dg.url, model: 'flux-general-en' }).open(
        { format: MULAW_8K, eagerEndOfTurn: true },
        (e) => events.push(e),
      );
      for (let i = 0; i < 20; i++) s.write(FRAME);
      await until(() => events.some((e) => e.type === 'final'));
      expect(events.map((e) => e.type)).toEqual([
        'speech_started',
        'partial',
        'eager_end_of_turn',
        'turn_resumed',
        'partial',
        'eager_end_of_turn',
        'final',
        'utterance_end',
      ]);
      // Flux's state machine: the caller went on after the first eager end of turn; the EndOfTurn has the words of
      // the EagerEndOfTurn just before it.
      expect(events[2]).toMatchObject({ type: 'eager_end_of_turn', text: 'what time do you' });
      expect(events[5]).toMatchObject({ type: 'eager_end_of_turn', text: 'what time do you open' });
      expect(events[6]).toMatchObject({ type: 'final', text: 'what time do you open' });
      expect(dg.fluxEvents.map((e) => e.turnIndex)).toEqual([0, 0, 0, 0, 0, 0, 0]);
      expect(dg.requests.find((r) => r.path === '/v2/listen')!.query.eager_eot_threshold).toBe('0.5');
      await s.close();
    } finally {
      await dg.close();
    }
  });

  it('a Flux Error is fatal (bad_request) and the stream closes', async () => {
    const dg = await startDeepgramFake();
    try {
      dg.faults.push('undecodable');
      const events: AsrEvent[] = [];
      const s = await new DeepgramAsr({ apiKey: 'dg-test', baseUrl: dg.url, model: 'flux-general-en' }).open(
        { format: MULAW_8K },
        (e) => events.push(e),
      );
      s.write(FRAME);
      await until(() => events.some((e) => e.type === 'closed'));
      expect(events[0]).toMatchObject({ type: 'error', fatal: true, error: { code: 'bad_request' } });
    } finally {
      await dg.close();
    }
  });
});

describe('elevenlabs per-clause HTTP', () => {
  it('previous_text / next_text go with the clause', async () => {
    const el = await startElevenLabsFake();
    try {
      const tts = new ElevenLabsTts({ apiKey: 'xi-test', baseUrl: el.url });
      await drain(
        tts.synthesize(
          { text: 'Your table is booked.', previousText: 'Thanks.', nextText: 'Anything else?', format: MULAW_8K },
          signal(),
        ),
      );
      expect(JSON.parse(el.requests.at(-1)!.body!)).toMatchObject({
        text: 'Your table is booked.',
        previous_text: 'Thanks.',
        next_text: 'Anything else?',
      });
    } finally {
      await el.close();
    }
  });
});
