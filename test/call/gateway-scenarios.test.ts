/**
 * Issue 6 "Done means" scenarios through the REAL WebSocket gateway, over Twilio (JSON/base64 mu-law; no transfer
 * message on the socket, so transfer goes through the gateway's platform call control, as in production) and native (binary PCM16; transfer and hangup
 * are wire messages): backchannel, DTMF menu, slow HTTP tool with filler, MCP tool, end_call, transfer_call, silence
 * timeout, maximum duration, and ASR / LLM / TTS failure mid-call. Scripted providers, the simulated phone of
 * src/call/phone-sim.ts (echoes marks after playout, honours clear), loopback HTTP and MCP servers.
 * Assertions are on order and content only (wire events and the call's recorded events), never on timing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  lastToolResult,
  lastUser,
  ScriptedAsr,
  type ScriptedAsrOptions,
  ScriptedLlm,
  type ScriptedLlmOptions,
  ScriptedTts,
  type ScriptedTtsOptions,
  scriptedRegistry,
} from '../../bench/scripted.js';
import type { AssistantConfig } from '../../src/assistant.js';
import type { SessionDeps } from '../../src/call/deps.js';
import { type LocalCall, type LocalEngine, startLocalEngine } from '../../src/call/local-engine.js';
import { PhoneSim, type SimProtocol } from '../../src/call/phone-sim.js';
import { energyVadFactory } from '../../src/call/vad.js';
import { createPlatformControl } from '../../src/channels/call-control.js';
import { silentLogger } from '../../src/log.js';
import type { LlmRequest } from '../../src/providers/types.js';
import { openStore, type Store } from '../../src/store/index.js';
import { fakeCreds, startControlFake } from '../channels/control-fake.js';
import { type McpTestServer, startMcpServer } from '../tools/mcp-server.js';
import { fillFrame } from './fake-leg.js';
import { assistant, slowBalanceTool, startSlowBalanceBackend } from './harness.js';

let engines: LocalEngine[] = [];
let sims: PhoneSim[] = [];
let dirs: string[] = [];
let slow: Awaited<ReturnType<typeof startSlowBalanceBackend>>;
let mcp: McpTestServer;
/** Twilio's REST call control (loopback fake) and the tenant whose twilio plugin points at it. */
let platform: Awaited<ReturnType<typeof startControlFake>>;
let store: Store;
let tenantId = '';
const { creds } = fakeCreds();

beforeAll(async () => {
  platform = await startControlFake(creds);
  store = openStore({ file: ':memory:' });
  tenantId = (await store.tenants.create({ email: 'gws@x' })).id;
  await store.account.purchasePlugin(tenantId, 'twilio', 0);
  await store.account.configurePlugin(tenantId, 'twilio', { ...creds.twilio, baseUrl: `${platform.url}/twilio` });
  slow = await startSlowBalanceBackend();
  mcp = await startMcpServer();
});
afterAll(async () => {
  await slow.close();
  await mcp.close();
  store.close();
  await platform.close();
});
afterEach(async () => {
  for (const s of sims) await s.stop().catch(() => undefined);
  for (const e of engines) await e.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  engines = [];
  sims = [];
  dirs = [];
});

interface TransferRequest {
  target: string;
  mode: string;
  summary?: string;
}

interface SetupOptions {
  config: AssistantConfig;
  asr: ScriptedAsrOptions;
  llm: ScriptedLlmOptions;
  tts?: ScriptedTtsOptions;
  ttsFallback?: ScriptedTtsOptions;
}

/** A local engine (real HTTP server + gateway) with scripted providers, and a simulated phone connected to it. */
async function setup(protocol: SimProtocol, o: SetupOptions) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 've-gws-'));
  dirs.push(dataDir);
  const asr = new ScriptedAsr(o.asr);
  const llm = new ScriptedLlm({ firstTokenMs: 10, ...o.llm });
  const tts = new ScriptedTts({ msPerChar: 5, ...o.tts });
  const ttsFallback = o.ttsFallback ? new ScriptedTts({ id: 'fallback-tts', ...o.ttsFallback }) : undefined;
  // Twilio's socket has no transfer message: the leg asks the platform's REST call control, the product's
  // (src/channels/call-control.ts) with the tenant's twilio plugin, against the loopback Twilio API.
  const control = createPlatformControl({ store, logger: silentLogger, publicUrl: 'https://engine.example.com' });
  const callId = `CA${Math.random().toString(16).slice(2).padEnd(32, '0').slice(0, 32)}`;
  platform.live.add(callId);
  /** The transfers Twilio was asked for (a <Dial> TwiML; warm: the whisper's signed URL carries the summary). */
  const transfers = (): TransferRequest[] =>
    platform.requests
      .filter((r) => r.platform === 'twilio' && r.path.endsWith(`/Calls/${callId}.json`))
      .map((r) => new URLSearchParams(r.body).get('Twiml'))
      .filter((t): t is string => t !== null)
      .map((twiml) => {
        const m = /<Number(?: url="([^"]*)")?>([^<]*)<\/Number>/.exec(twiml);
        const url = m?.[1] ? new URL(m[1].replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n)))) : undefined;
        const summary = url?.searchParams.get('to') ?? undefined;
        return { target: m?.[2] ?? twiml, mode: url ? 'warm' : 'cold', ...(summary ? { summary } : {}) };
      });
  const deps: Partial<SessionDeps> = { createVad: energyVadFactory };
  const engine = await startLocalEngine({
    assistant: assistant(o.config),
    providers: scriptedRegistry({ asr, llm, tts, ttsFallback }),
    logger: silentLogger,
    dataDir,
    deps,
    // The engine binds each call to its tenant; the scripted assistant's tenant is this store's.
    control: (_call, info) => control({ tenantId }, info),
  });
  engines.push(engine);
  const sim = await PhoneSim.connect({ url: engine.url(protocol), protocol, callId });
  sims.push(sim);
  await until(() => engine.calls.length === 1, 'call started');
  const call = engine.calls[0]!;
  return { engine, sim, call, asr, llm, tts, ttsFallback, transfers };
}

/** Caller audio at real-time pace: energy "speech" or silence, 20 ms mu-law frames. */
async function talk(sim: PhoneSim, kind: 'speech' | 'silence', ms: number): Promise<void> {
  const frame = new Uint8Array(160);
  const start = performance.now();
  for (let i = 0; i < ms / 20; i++) {
    fillFrame(frame, kind === 'speech');
    sim.sendFrame(frame);
    const wait = start + (i + 1) * 20 - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

/** One caller turn: speech then the trailing silence that lets the turn commit. */
async function say(sim: PhoneSim, speechMs = 400): Promise<void> {
  await talk(sim, 'speech', speechMs);
  await talk(sim, 'silence', 300);
}

async function until(cond: () => boolean, what: string, maxMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > maxMs) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const of = (call: LocalCall, type: string) => call.events.filter((e) => e.type === type).map((e) => e.data);
const spokenByAgent = (call: LocalCall) =>
  of(call, 'transcript')
    .filter((d) => d.role === 'assistant')
    .map((d) => String(d.text));

/** LLM requests of the conversation (not the post-call summary / extraction, as in control.test.ts). */
const conversational = (reqs: LlmRequest[]) =>
  reqs.filter((r) => !(r.messages[0]?.role === 'system' && /^(Summarize|Extract)/.test(r.messages[0].content)));

const story =
  'Once upon a time there was a small village by the sea. Every morning the fishermen went out in their boats. One day a storm came.';

for (const protocol of ['twilio', 'native'] as SimProtocol[]) {
  describe(`issue 6 scenarios over the ${protocol} gateway`, () => {
    it('a backchannel while the agent speaks pauses it and it resumes: the answer plays to the end', async () => {
      const { sim, call, llm, tts } = await setup(protocol, {
        config: { settings: { bargeInMinSpeechMs: 100 } },
        asr: { script: ['tell me a story', { text: 'uh-huh', partial: 'uh-huh' }], partialAfterMs: 40 },
        llm: { respond: () => [{ text: story }] },
        tts: { msPerChar: 15 },
      });
      await say(sim, 500);
      await until(() => call.session.state === 'agent_speaking', 'agent speaking');
      await talk(sim, 'silence', 600);
      await talk(sim, 'speech', 300);
      await talk(sim, 'silence', 400);
      await until(() => call.session.state === 'listening', 'answer finished', 15_000);
      // The caller's speech paused the agent (one clear on the wire), then the acknowledgement resumed it.
      expect(sim.events.filter((e) => e.type === 'clear')).toHaveLength(1);
      const paused = call.events.findIndex((e) => e.type === 'state' && e.data.paused === true);
      expect(paused).toBeGreaterThanOrEqual(0);
      expect(call.events.findIndex((e) => e.type === 'state' && e.data.resumed === true)).toBeGreaterThan(paused);
      expect(call.events.some((e) => e.type === 'state' && e.data.reason === 'barge_in')).toBe(false);
      // The whole story was synthesized and played: the last mark, sent after the resume, came back from the phone.
      expect(tts.texts.join(' ')).toBe(story);
      const marks = sim.events.filter((e) => e.type === 'mark');
      expect(marks.length).toBeGreaterThan(0);
      expect(marks.at(-1)).toMatchObject({ echoedAt: expect.any(Number) });
      const agent = of(call, 'transcript').filter((d) => d.role === 'assistant');
      expect(agent.map((d) => d.text).join(' ')).toBe(story);
      expect(agent.some((d) => d.interrupted || d.truncated)).toBe(false);
      // The "uh-huh" is on record as a backchannel and did not start a turn.
      expect(of(call, 'transcript').find((d) => d.text === 'uh-huh')).toMatchObject({ backchannel: true });
      expect(call.session.transcript.filter((t) => t.role === 'user').map((t) => t.text)).toEqual(['tell me a story']);
      // The LLM was asked only for the caller's turn, never for the "uh-huh" nor after the answer began. Preemptive
      // generation may first have prepared a reply on the caller's first words: when the recognizer's final lags the
      // end of speech (a loaded machine), the reply is prepared on the partial "tell", then again on the final.
      const asked = conversational(llm.requests);
      expect(asked.map((r) => lastUser(r.messages)).at(-1)).toBe('tell me a story');
      for (const r of asked) {
        expect('tell me a story'.startsWith(lastUser(r.messages))).toBe(true);
        expect(r.messages.filter((m) => m.role === 'assistant')).toEqual([]);
      }
    });

    it('DTMF menu: a key replies at once without the LLM, another transfers', async () => {
      const { engine, sim, call, llm, tts, transfers } = await setup(protocol, {
        config: {
          dtmf: {
            menu: {
              '1': { reply: 'Our address is 1 Main Street.' },
              '0': { transferTo: '+15550001111', reply: 'Connecting you to an operator.' },
            },
          },
        },
        asr: { script: [] },
        llm: { respond: () => [{ text: 'unused' }] },
      });
      await talk(sim, 'silence', 100);
      sim.sendDtmf('1');
      await until(() => call.session.state === 'listening' && tts.texts.length > 0, 'menu reply played');
      expect(tts.texts[0]).toBe('Our address is 1 Main Street.');
      expect(spokenByAgent(call)).toContain('Our address is 1 Main Street.');
      sim.sendDtmf('0');
      await sim.whenClosed;
      const ended = await engine.nextEnded();
      expect(ended.summary?.endReason).toBe('transferred');
      expect(ended.summary?.transferredTo).toBe('+15550001111');
      expect(ended.summary?.digits).toEqual(['1', '0']);
      expect(conversational(llm.requests)).toEqual([]);
      if (protocol === 'native') {
        expect(sim.events.find((e) => e.type === 'transfer')).toMatchObject({ target: '+15550001111', mode: 'cold' });
        expect(transfers()).toEqual([]);
      } else {
        expect(transfers()).toEqual([{ target: '+15550001111', mode: 'cold' }]);
      }
    });

    it('a slow HTTP tool: the filler is spoken before the result; the tool call and result are recorded', async () => {
      const { sim, call, llm, tts } = await setup(protocol, slowBalanceTool(slow.url));
      await say(sim);
      await until(() => tts.texts.some((t) => t.includes('42.50')) && call.session.state === 'listening', 'answer');
      const filler = tts.texts.indexOf('Let me check that for you.');
      const answer = tts.texts.findIndex((t) => t.includes('42.50'));
      expect(filler).toBeGreaterThanOrEqual(0);
      expect(filler).toBeLessThan(answer);
      // The call record: the filler, then the call with its arguments and the backend's result.
      const tools = of(call, 'tool');
      expect(tools[0]).toMatchObject({ name: 'get_balance', filler: 'Let me check that for you.' });
      expect(tools[1]).toMatchObject({
        name: 'get_balance',
        ok: true,
        arguments: { account: '123' },
        result: '{"balance":"42.50"}',
      });
      // On the wire: the filler's audio reached the phone before the tool's result came back (one clock: the
      // phone's t0 and the call events are both performance.now() of this process).
      const result = call.events.find((e) => e.type === 'tool' && e.data.ok === true);
      expect(sim.firstAgentAudioAt).toBeGreaterThanOrEqual(0);
      expect(sim.t0 + sim.firstAgentAudioAt).toBeLessThan(result!.at);
      expect(spokenByAgent(call)).toContain('Your balance is 42.50 dollars.');
      // The transcript has what the caller heard, the filler included, in order; the LLM history does not.
      const heard = spokenByAgent(call);
      expect(heard).toContain('Let me check that for you.');
      expect(heard.indexOf('Let me check that for you.')).toBeLessThan(heard.indexOf('Your balance is 42.50 dollars.'));
      expect(llm.requests[1]!.messages.at(-1)).toMatchObject({ role: 'tool', content: '{"balance":"42.50"}' });
    });

    it('an MCP tool from a loopback MCP server is called with the right arguments and its result spoken', async () => {
      const before = mcp.calls.length;
      const { sim, call, llm, tts } = await setup(protocol, {
        config: { precall: { mcpServers: [{ name: 'orders', transport: 'http', url: mcp.url }] } },
        asr: { script: ['where is my order A17'] },
        llm: {
          respond: (m) => {
            const r = lastToolResult(m);
            if (r) return [{ text: `Your order is ${JSON.parse(r).status}.` }];
            return [{ tool: 'lookup_order', args: { order: 'A17' } }];
          },
        },
      });
      await say(sim);
      await until(() => tts.texts.includes('Your order is shipped.') && call.session.state === 'listening', 'answer');
      expect(llm.requests[0]!.tools?.map((t) => t.name)).toContain('lookup_order');
      expect(mcp.calls.slice(before)).toEqual([{ name: 'lookup_order', args: { order: 'A17' } }]);
      expect(of(call, 'tool').at(-1)).toMatchObject({ name: 'lookup_order', ok: true, arguments: { order: 'A17' } });
      expect(spokenByAgent(call)).toContain('Your order is shipped.');
      if (protocol === 'native')
        expect(
          sim.events.some(
            (e) => e.type === 'transcript' && e.role === 'assistant' && e.text === 'Your order is shipped.',
          ),
        ).toBe(true);
    });

    it('end_call tool: the goodbye plays out, then the call hangs up and the record says why', async () => {
      const { engine, sim, call, tts } = await setup(protocol, {
        config: {},
        asr: { script: ['that is all, bye'] },
        llm: {
          respond: (m) =>
            lastToolResult(m)
              ? []
              : [{ text: 'Goodbye, have a nice day.' }, { tool: 'end_call', args: { reason: 'caller_done' } }],
        },
      });
      await say(sim);
      const closed = await sim.whenClosed;
      expect(closed.code).toBe(4000);
      const ended = await engine.nextEnded();
      expect(ended.summary?.endReason).toBe('caller_done');
      expect(ended.record).toMatchObject({ status: 'completed', endReason: 'caller_done' });
      expect(tts.texts).toContain('Goodbye, have a nice day.');
      expect(of(call, 'tool')[0]).toMatchObject({ name: 'end_call', ok: true });
      // The goodbye's audio reached the phone before the socket closed.
      const kinds = sim.events.map((e) => e.type);
      expect(kinds.indexOf('mark')).toBeGreaterThanOrEqual(0);
      expect(kinds.lastIndexOf('mark')).toBeLessThan(kinds.indexOf('closed'));
      expect(sim.firstAgentAudioAt).toBeGreaterThanOrEqual(0);
      if (protocol === 'native') expect(kinds.indexOf('hangup')).toBeGreaterThan(kinds.lastIndexOf('mark'));
    });

    it('transfer_call tool (warm) to a configured target, with the summary of what the caller said', async () => {
      const { engine, sim, call, transfers } = await setup(protocol, {
        config: { hangup: { transferTargets: [{ name: 'sales', number: '+15557654321' }] } },
        asr: { script: ['I want to buy something'] },
        llm: {
          respond: (m) =>
            lastToolResult(m)
              ? []
              : [
                  { text: 'Let me transfer you to sales.' },
                  { tool: 'transfer_call', args: { target: 'sales', mode: 'warm' } },
                ],
        },
      });
      await say(sim);
      await sim.whenClosed;
      const ended = await engine.nextEnded();
      expect(ended.summary?.endReason).toBe('transferred');
      expect(ended.summary?.transferredTo).toBe('+15557654321');
      expect(of(call, 'state').some((d) => d.state === 'transferring')).toBe(true);
      expect(of(call, 'incident')).toEqual([]);
      if (protocol === 'native') {
        expect(sim.events.find((e) => e.type === 'transfer')).toMatchObject({ target: '+15557654321', mode: 'warm' });
        expect(transfers()).toEqual([]);
      } else {
        expect(transfers()).toHaveLength(1);
        expect(transfers()[0]).toMatchObject({ target: '+15557654321', mode: 'warm' });
        expect(transfers()[0]!.summary).toContain('I want to buy something');
      }
    });

    it('silence timeout: one reprompt, then the goodbye and hangup', async () => {
      const { engine, sim, call, tts } = await setup(protocol, {
        config: { settings: { silenceTimeoutMs: 1000, silenceReprompts: 1 } },
        asr: { script: [] },
        llm: { respond: () => [{ text: 'unused' }] },
        tts: { msPerChar: 2 },
      });
      const closed = await sim.whenClosed;
      expect(closed.code).toBe(4000);
      const ended = await engine.nextEnded();
      expect(ended.summary?.endReason).toBe('silence_timeout');
      expect(tts.texts[0]).toBe('Are you still there?');
      expect(tts.texts.slice(1).join(' ')).toContain("I'll end the call now");
      expect(
        of(call, 'state').filter((d) => d.state === 'agent_speaking' && d.reason === 'silence_reprompt'),
      ).toHaveLength(1);
      expect(sim.events.filter((e) => e.type === 'mark').length).toBeGreaterThan(0);
    });

    it('maximum duration ends the call with the time-limit message', async () => {
      // 2 s keeps the file fast; the API schema's minimum is 10 s (src/assistant.ts), but the local engine
      // takes an Assistant as given, like the fake-leg test of the same rule.
      const { engine, sim, tts } = await setup(protocol, {
        config: { settings: { maxDurationSec: 2 } },
        asr: { script: [] },
        llm: { respond: () => [{ text: 'unused' }] },
        tts: { msPerChar: 2 },
      });
      await sim.whenClosed;
      const ended = await engine.nextEnded();
      expect(ended.summary?.endReason).toBe('max_duration');
      expect(ended.record).toMatchObject({ status: 'completed', endReason: 'max_duration' });
      expect(tts.texts[0]).toContain('time limit');
    });

    it('LLM failure mid-call: the caller hears an apology, the record has the incident, the next turn works', async () => {
      const { sim, call, tts } = await setup(protocol, {
        // Request numbers count: no reply prepared before the commit (preemptive generation) may take number 1.
        config: { settings: { preemptiveGeneration: false } },
        asr: { script: ['first question', 'second question'] },
        llm: { respond: (m) => [{ text: `Answer to ${lastUser(m)}.` }], failOnRequests: [1] },
      });
      await say(sim);
      await until(() => call.session.state === 'listening' && tts.texts.length > 0, 'apology played');
      expect(tts.texts.join(' ')).toContain("I'm sorry");
      const spoken = tts.texts.length;
      expect(of(call, 'incident')[0]).toMatchObject({ kind: 'llm', provider: 'scripted-llm', code: 'server' });
      await say(sim);
      await until(() => tts.texts.length > spoken && call.session.state === 'listening', 'second answer');
      expect(tts.texts[spoken]).toBe('Answer to second question.');
      expect(spokenByAgent(call)).toContain('Answer to second question.');
    });

    it('TTS failure mid-call falls back to the next provider, whose audio reaches the phone', async () => {
      const { sim, call, ttsFallback } = await setup(protocol, {
        config: {},
        asr: { script: ['hello there'] },
        llm: { respond: () => [{ text: 'Hi, how can I help?' }] },
        tts: { failOnRequests: [1] },
        ttsFallback: { msPerChar: 5 },
      });
      await say(sim);
      await until(() => call.session.state === 'listening' && (ttsFallback?.texts.length ?? 0) > 0, 'fallback spoke');
      expect(ttsFallback!.texts[0]).toBe('Hi, how can I help?');
      expect(of(call, 'incident')[0]).toMatchObject({
        kind: 'tts',
        provider: 'scripted-tts',
        action: 'fallback',
        code: 'server',
      });
      expect(sim.firstAgentAudioAt).toBeGreaterThanOrEqual(0);
      expect(sim.events.some((e) => e.type === 'mark' && e.echoedAt !== undefined)).toBe(true);
    });

    it('ASR failure mid-call: reopened once, then the caller is told to use the keypad, and DTMF still works', async () => {
      const { sim, call, asr, llm, tts } = await setup(protocol, {
        config: {},
        asr: { script: ['hello', 'still there'], failAfterSegments: 0 },
        llm: { respond: (m) => [{ text: `Got ${lastUser(m)}.` }] },
      });
      await talk(sim, 'speech', 300);
      await talk(sim, 'silence', 300);
      await until(() => asr.opened === 2 && call.session.state === 'listening', 'asr reopened');
      await talk(sim, 'speech', 300);
      await talk(sim, 'silence', 300);
      await until(() => tts.texts.some((t) => t.includes('keypad')), 'told to use the keypad');
      const incidents = of(call, 'incident');
      expect(incidents).toHaveLength(2);
      expect(incidents[0]).toMatchObject({ kind: 'asr', provider: 'scripted-asr' });
      sim.sendDtmf('5');
      sim.sendDtmf('#');
      await until(() => llm.requests.some((r) => lastUser(r.messages) === 'DTMF: 5'), 'dtmf reached the llm');
    });
  });
}
