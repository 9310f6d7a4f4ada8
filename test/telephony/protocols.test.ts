import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDtmf } from '../../src/audio/dtmf.js';
import { PCM_8K } from '../../src/audio/format.js';
import { parsePlain } from '../../src/telephony/asterisk.js';
import { parseExtraHeaders } from '../../src/telephony/plivo.js';
import { loadFixture, render, startServer, type TestServer, testAudio, WireClient } from './helpers.js';

/** Protocol-specific cases beyond the shared conformance suite. */
let srv: TestServer;
beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  await srv.close();
});

async function open(protocol: string, path?: string, start?: (string | Buffer)[]) {
  const fx = loadFixture(protocol);
  const c = new WireClient(`${srv.url}${path ?? fx.path}`, fx.subprotocol ?? undefined);
  await c.opened;
  const p = srv.nextCall();
  for (const m of start ?? fx.start.map((s) => render(s))) c.send(m);
  return { c, call: await p, fx };
}

describe('twilio', () => {
  it('pads a partial last frame with mu-law silence when a mark waits on it, then sends the mark', async () => {
    const { c, call, fx } = await open('twilio');
    const audio = testAudio(100);
    call.leg.play({ format: call.leg.info.outboundFormat, data: audio });
    call.leg.mark('end');
    const mark = render({ text: fx.out.mark! }, { name: 'end' });
    await c.until((r) => r.some((x) => x.text === mark), 'mark');
    const media = JSON.parse(c.received[0]!.text!) as { media: { payload: string } };
    const bytes = Buffer.from(media.media.payload, 'base64');
    expect(bytes.length).toBe(160);
    expect(bytes.subarray(0, 100)).toEqual(Buffer.from(audio));
    expect(bytes.subarray(100).every((b) => b === 0xff)).toBe(true);
    c.close();
  });

  it('counts sequence gaps and ignores an outbound track', async () => {
    const { c, call, fx } = await open('twilio');
    c.send(render(fx.media, { seq: 2, payload: testAudio(160) }));
    c.send(render(fx.media, { seq: 5, payload: testAudio(160) })); // 3 and 4 missing
    c.send(
      render(fx.media, { seq: 6, payload: testAudio(160) })
        .toString()
        .replace('"inbound"', '"outbound"'),
    );
    c.send(render(fx.dtmf, { seq: 7 }));
    await expect.poll(() => call.dtmf.length).toBe(1);
    expect(call.audio.length).toBe(2);
    expect(call.leg.stats.gaps).toBe(2);
    c.close();
  });

  it('converts PCM16 16 kHz played audio to mu-law 8 kHz frames of 160 bytes', async () => {
    const { c, call } = await open('twilio');
    const pcm = new Int16Array(320 * 5); // 100 ms at 16 kHz
    for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 16000));
    call.leg.play({ format: { encoding: 'pcm16', sampleRate: 16000, channels: 1 }, data: new Uint8Array(pcm.buffer) });
    call.leg.mark('x');
    await c.until((r) => r.some((x) => x.text?.includes('"mark"')), 'mark');
    const sizes = c
      .texts()
      .filter((t) => t.includes('"media"'))
      .map((t) => Buffer.from(JSON.parse(t).media.payload, 'base64').length);
    expect(sizes.every((s) => s === 160)).toBe(true);
    expect(sizes.length).toBeGreaterThanOrEqual(4);
    c.close();
  });
});

describe('telnyx', () => {
  it('swaps big-endian L16 in and out', async () => {
    const fx = loadFixture('telnyx');
    const start = JSON.stringify(fx.start[1]!.text)
      .replace('"PCMU"', '"L16"')
      .replace('"sample_rate":8000', '"sample_rate":16000');
    const { c, call } = await open('telnyx', '/media/telnyx', [start]);
    expect(call.leg.info.inboundFormat).toEqual({ encoding: 'pcm16', sampleRate: 16000, channels: 1 });
    const le = testAudio(640);
    const be = Buffer.from(le);
    be.swap16();
    c.send(render(fx.media, { payload: be }));
    await expect.poll(() => call.audio.length).toBe(1);
    expect(Buffer.from(call.audio[0]!)).toEqual(Buffer.from(le));
    call.leg.play({ format: call.leg.info.outboundFormat, data: le });
    await c.until((r) => r.length > 0, 'media');
    expect(Buffer.from(JSON.parse(c.received[0]!.text!).media.payload, 'base64')).toEqual(be);
    c.close();
  });
});

describe('telnyx order', () => {
  it('re-orders media by chunk (Telnyx does not guarantee order)', async () => {
    const { c, call, fx } = await open('telnyx');
    const frames = [1, 2, 3, 4].map((i) => testAudio(160, i));
    for (const i of [0, 2, 1, 3]) c.send(render(fx.media, { seq: i + 2, chunk: i + 1, payload: frames[i] }));
    await expect.poll(() => call.audio.length).toBe(4);
    expect(call.audio.map((a) => Buffer.from(a))).toEqual(frames.map((f) => Buffer.from(f)));
    c.close();
  });
});

describe('jambonz', () => {
  it('sends the sample -1 as -2 (0xFFFF is its in-band mark)', async () => {
    const { c, call } = await open('jambonz');
    const pcm = new Int16Array(320).fill(-1);
    pcm[0] = 5;
    call.leg.play({ format: call.leg.info.outboundFormat, data: new Uint8Array(pcm.buffer) });
    await c.until((r) => r.some((x) => x.binary), 'audio');
    const got = c.received.find((x) => x.binary)!.binary!;
    const samples = new Int16Array(got.buffer.slice(got.byteOffset, got.byteOffset + got.length));
    expect(samples[0]).toBe(5);
    expect([...samples.subarray(1)].every((s) => s === -2)).toBe(true);
    c.close();
  });
});

describe('asterisk', () => {
  it('speaks JSON control when MEDIA_START came as JSON', async () => {
    const start = JSON.stringify({
      event: 'MEDIA_START',
      connection_id: 'c1',
      channel: 'WebSocket/c1/0x1',
      channel_id: '1761245643.7',
      format: 'slin16',
      optimal_frame_size: 640,
      ptime: 20,
      channel_variables: { assistantApiKey: 'ast_var' },
    });
    const { c, call } = await open('asterisk', '/media/asterisk', [start]);
    expect(call.leg.info.inboundFormat).toEqual({ encoding: 'pcm16', sampleRate: 16000, channels: 1 });
    expect(srv.resolves[srv.resolves.length - 1]!.paramKey).toBe('ast_var');
    call.leg.play({ format: call.leg.info.outboundFormat, data: testAudio(640 * 30) });
    call.leg.mark('m1');
    call.leg.clear();
    await c.until((r) => r.some((x) => x.text?.includes('FLUSH_MEDIA')), 'flush');
    expect(c.texts()).toContain('{"command":"FLUSH_MEDIA"}');
    c.send(JSON.stringify({ event: 'DTMF_END', digit: '#', channel_id: '1761245643.7' }));
    await expect.poll(() => call.dtmf.length).toBe(1);
    await call.leg.hangup('bye');
    expect((await c.closed).code).toBe(4000);
    expect(c.texts()).toContain('{"command":"HANGUP"}');
  });

  it('holds audio between MEDIA_XOFF and MEDIA_XON', async () => {
    const { c, call } = await open('asterisk');
    c.send('MEDIA_XOFF channel_id:1761245643.1');
    c.send('DTMF_END digit:1 channel_id:1761245643.1');
    await expect.poll(() => call.dtmf.length).toBe(1);
    call.leg.play({ format: call.leg.info.outboundFormat, data: testAudio(160 * 3) });
    expect(call.leg.stats.framesOut).toBe(0);
    c.send('MEDIA_XON channel_id:1761245643.1');
    await expect.poll(() => call.leg.stats.framesOut).toBe(3);
    await c.until((r) => r.filter((x) => x.binary).length === 3, 'three frames');
    c.close();
  });

  it('parses plain control lines', () => {
    expect(parsePlain('MEDIA_MARK_PROCESSED utt-1')).toEqual({ event: 'MEDIA_MARK_PROCESSED', id: 'utt-1' });
    expect(parsePlain('DTMF_END digit:5 channel_id:1.2')).toEqual({ event: 'DTMF_END', digit: '5', channel_id: '1.2' });
  });
});

describe('native', () => {
  it('sends transcripts and events as they are, then hangup and close 4000', async () => {
    const { c, call } = await open('native');
    call.leg.sendEvent({ type: 'transcript', role: 'user', text: 'hello', final: true, turn: 1 });
    call.leg.sendEvent({ type: 'event', name: 'turn.metrics', data: { turn: 1, endpointingMs: 240 } });
    await call.leg.hangup('end_call');
    expect((await c.closed).code).toBe(4000);
    expect(c.texts().slice(1)).toEqual([
      '{"type":"transcript","role":"user","text":"hello","final":true,"turn":1}',
      '{"type":"event","name":"turn.metrics","data":{"turn":1,"endpointingMs":240}}',
      '{"type":"hangup","reason":"end_call"}',
    ]);
    expect(call.stops).toEqual(['end_call']);
  });

  it('transfer sends the transfer message and closes 4000', async () => {
    const { c, call } = await open('native');
    await call.leg.transfer('+15550003333', 'cold');
    expect((await c.closed).code).toBe(4000);
    expect(c.texts()).toContain('{"type":"transfer","target":"+15550003333","mode":"cold"}');
  });

  it('refuses an unsupported rate as a protocol error', async () => {
    const c = new WireClient(`${srv.url}/media/native`);
    await c.opened;
    c.send(JSON.stringify({ type: 'start', audio: { encoding: 'pcm16', sampleRate: 11025 } }));
    c.send(JSON.stringify({ type: 'dtmf', digit: 'x' }));
    await new Promise((r) => setTimeout(r, 50));
    expect(c.closeCode).toBeUndefined(); // counted, not yet past the tolerated count
    c.close();
  });
});

describe('freeswitch and audiofork', () => {
  it('freeswitch: binary first (no metadata) starts with the URL query, and DTMF is detected in-band', async () => {
    const tones = generateDtmf('58', { sampleRate: 8000 });
    const bytes = Buffer.from(tones.buffer, tones.byteOffset, tones.byteLength);
    const c = new WireClient(`${srv.url}/media/freeswitch/ast_k?sampleRate=8000&callId=fs-q&to=2000`);
    await c.opened;
    const p = srv.nextCall();
    for (let off = 0; off < bytes.length; off += 320) c.send(bytes.subarray(off, off + 320));
    c.send(Buffer.alloc(3200)); // trailing silence ends the last digit
    const call = await p;
    expect(call.leg.info.callId).toBe('fs-q');
    expect(call.leg.info.to).toBe('2000');
    expect(call.leg.info.inboundFormat).toEqual(PCM_8K);
    await expect.poll(() => call.dtmf.map((d) => `${d.digit}/${d.source}`)).toEqual(['5/inband', '8/inband']);
    c.close();
  });

  it('audiofork: a zero-length frame is not audio; transfer goes to the controller as JSON', async () => {
    const { c, call } = await open('audiofork');
    c.send(Buffer.alloc(0));
    c.send(Buffer.from(testAudio(640)));
    await expect.poll(() => call.audio.length).toBe(1);
    expect(call.leg.stats.malformed).toBe(0);
    await call.leg.transfer('sip:agent@example.com', 'cold');
    expect((await c.closed).code).toBe(4000);
    expect(c.texts()).toContain('{"type":"transfer","data":{"to":"sip:agent@example.com"}}');
  });
});

describe('plivo and vonage', () => {
  it('plivo: numeric sequence gaps, sendDTMF on the socket, extra_headers with either separator', async () => {
    const { c, call, fx } = await open('plivo');
    c.send(render(fx.media, { seq: 2, payload: testAudio(320) }));
    c.send(render(fx.media, { seq: 4, payload: testAudio(320) }));
    await expect.poll(() => call.audio.length).toBe(2);
    expect(call.leg.stats.gaps).toBe(1);
    call.leg.sendDtmf('42');
    await c.until((r) => r.length > 0, 'sendDTMF');
    expect(c.texts()).toContain('{"event":"sendDTMF","dtmf":"42"}');
    expect(parseExtraHeaders('tenant=acme,lang=en')).toEqual({ tenant: 'acme', lang: 'en' });
    c.close();
  });

  it('vonage: no transfer on the socket (REST), hangup closes 4000', async () => {
    const { c, call } = await open('vonage');
    await expect(call.leg.transfer('+1555', 'cold')).resolves.toBe('unsupported');
    expect(call.leg.closed).toBe(false);
    await call.leg.hangup('done');
    expect((await c.closed).code).toBe(4000);
  });
});
