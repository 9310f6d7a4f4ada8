import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import {
  lastToolResult,
  ScriptedAsr,
  type ScriptedAsrOptions,
  ScriptedLlm,
  type ScriptedLlmOptions,
  ScriptedTts,
  type ScriptedTtsOptions,
  scriptedRegistry,
} from '../../bench/scripted.js';
import type { Assistant, AssistantConfig } from '../../src/assistant.js';
import type { CallPatch, CallSink, CallSummary, SessionDeps } from '../../src/call/deps.js';
import { CallSession } from '../../src/call/session.js';
import { energyVadFactory } from '../../src/call/vad.js';
import { silentLogger } from '../../src/log.js';
import type { AsrProvider } from '../../src/providers/types.js';
import { createToolRegistry } from '../../src/tools/registry.js';
import { FakeLeg } from './fake-leg.js';

export class MemorySink implements CallSink {
  readonly events: { type: string; data: Record<string, unknown> }[] = [];
  record: CallPatch = {};
  event(type: string, data: Record<string, unknown>): void {
    this.events.push({ type, data });
  }
  update(patch: CallPatch): void {
    Object.assign(this.record, patch);
  }
  of(type: string): Record<string, unknown>[] {
    return this.events.filter((e) => e.type === type).map((e) => e.data);
  }
  states(): string[] {
    return this.of('state').map((d) => String(d.state));
  }
}

export function assistant(config: AssistantConfig, id = 'ag_test'): Assistant {
  return { id, assistantApiKey: 'ast_test', tenantId: 't1', config, version: 1, createdAt: '', updatedAt: '' };
}

export interface HarnessOptions {
  config: AssistantConfig;
  asr: ScriptedAsrOptions;
  /** A real recognizer (against a loopback fake) in place of the scripted one (`asr` is then unused). */
  asrProvider?: AsrProvider;
  llm: ScriptedLlmOptions;
  tts?: ScriptedTtsOptions;
  ttsFallback?: ScriptedTtsOptions;
  deps?: Partial<SessionDeps>;
  /** The leg's start info (custom parameters…) and whether we dialed the call (voicemail detection). */
  leg?: ConstructorParameters<typeof FakeLeg>[0];
  outbound?: boolean;
}

/**
 * `harness` for a test file: each call's harness is stopped and cleaned up after the test that made it. Call at
 * the top level of the file.
 */
export function harnessPerTest(): (o: HarnessOptions) => ReturnType<typeof harness> {
  let made: ReturnType<typeof harness>[] = [];
  afterEach(() => {
    for (const x of made) {
      x.leg.stop('test-end');
      x.cleanup();
    }
    made = [];
  });
  return (o) => {
    const x = harness(o);
    made.push(x);
    return x;
  };
}

export function harness(o: HarnessOptions) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 've-call-'));
  const leg = new FakeLeg(o.leg);
  const sink = new MemorySink();
  const asr = new ScriptedAsr(o.asr);
  const llm = new ScriptedLlm(o.llm);
  const tts = new ScriptedTts(o.tts);
  const ttsFallback = o.ttsFallback ? new ScriptedTts({ id: 'fallback-tts', ...o.ttsFallback }) : undefined;
  const ended: CallSummary[] = [];
  const session = new CallSession({
    leg,
    outbound: o.outbound,
    assistant: assistant(o.config),
    deps: {
      providers: scriptedRegistry({ asr: o.asrProvider ?? asr, llm, tts, ttsFallback }),
      tools: createToolRegistry(),
      sink,
      logger: silentLogger,
      dataDir,
      createVad: energyVadFactory,
      onEnded: (s) => ended.push(s),
      ...o.deps,
    },
  });
  return {
    leg,
    sink,
    asr,
    llm,
    tts,
    ttsFallback,
    session,
    ended,
    dataDir,
    cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
    /** Wait until `cond` holds, polling every 10 ms (bounded: fails the test rather than hanging). */
    async until(cond: () => boolean, what: string, maxMs = 8000): Promise<void> {
      const start = Date.now();
      while (!cond()) {
        if (Date.now() - start > maxMs) throw new Error(`timed out waiting for: ${what}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

/**
 * The slow-tool scenario's backend: a loopback HTTP server that answers `{"balance":"42.50"}` after 900 ms, well
 * beyond the scenario's fillerAfterMs (300 ms), so the filler is spoken. `url` is the tool's URL.
 */
export async function startSlowBalanceBackend(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(async (req, res) => {
    for await (const _ of req) {
      // drain the body
    }
    await new Promise((r) => setTimeout(r, 900));
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"balance":"42.50"}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/balance`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/**
 * The slow-tool scenario shared by the in-memory and the through-the-gateway tests: an HTTP tool `get_balance`
 * at `url` (a loopback server that answers slowly), a filler after 300 ms, and an LLM that calls the tool once and
 * then speaks its result.
 */
export function slowBalanceTool(url: string): {
  config: AssistantConfig;
  asr: ScriptedAsrOptions;
  llm: Pick<ScriptedLlmOptions, 'respond'>;
} {
  return {
    config: {
      settings: { fillerAfterMs: 300 },
      tools: {
        http: [
          {
            type: 'http',
            name: 'get_balance',
            description: 'Get the account balance',
            url,
            method: 'POST',
            body: '{"account": {{account}}}',
            filler: 'Let me check that for you.',
          },
        ],
      },
    },
    asr: { script: ['what is my balance'] },
    llm: {
      respond: (m) => {
        const r = lastToolResult(m);
        if (r) return [{ text: `Your balance is ${JSON.parse(r).balance} dollars.` }];
        return [{ tool: 'get_balance', args: { account: '123' } }];
      },
    },
  };
}
