import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Assistant } from '../../src/assistant.js';
import { createAsteriskDialer } from '../../src/channels/asterisk.js';
import { EslParser } from '../../src/channels/esl.js';
import { createFreeswitchDialer } from '../../src/channels/freeswitch.js';
import { DialError } from '../../src/channels/types.js';
import type { EgressPolicy, LookupFn } from '../../src/net/egress.js';

const assistant = {
  id: 'ag_1',
  assistantApiKey: 'ast_PBX',
  tenantId: 't',
  config: {},
  version: 1,
  createdAt: '',
  updatedAt: '',
} as Assistant;
const dialReq = (to: string) => ({ callId: 'c_77', tenantId: 't', assistant, to, channel: 'x', metadata: {} });

/** Loopback ARI: POST /ari/channels (originate) with basic auth, answering the Channel JSON or {"message"}. */
async function startAriFake() {
  const requests: Array<{ url: URL; auth: string; body: { variables?: Record<string, string> } }> = [];
  const server = createHttpServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push({
      url,
      auth: req.headers.authorization ?? '',
      body: JSON.parse(Buffer.concat(chunks).toString() || '{}'),
    });
    res.setHeader('content-type', 'application/json');
    if (req.headers.authorization !== `Basic ${Buffer.from('ari:pw').toString('base64')}`) {
      res.statusCode = 401;
      return res.end(JSON.stringify({ message: 'Authentication required' }));
    }
    if (req.method !== 'POST' || url.pathname !== '/ari/channels' || !url.searchParams.get('endpoint')) {
      res.statusCode = 400;
      return res.end(JSON.stringify({ message: 'Endpoint must be specified' }));
    }
    res.end(
      JSON.stringify({
        id: url.searchParams.get('channelId'),
        name: `${url.searchParams.get('endpoint')}-0001`,
        state: 'Down',
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Loopback FreeSWITCH Event Socket: auth/request, auth, bgapi -> command/reply with a Job-UUID. */
async function startEslFake(password: string) {
  const commands: string[] = [];
  const sockets = new Set<Socket>();
  const server = createTcpServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.write('Content-Type: auth/request\n\n');
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
        const cmd = buf.slice(0, i);
        buf = buf.slice(i + 2);
        commands.push(cmd);
        if (cmd.startsWith('auth ')) {
          // Split the reply across two writes: the client must reassemble it.
          const reply =
            cmd === `auth ${password}`
              ? 'Content-Type: command/reply\nReply-Text: +OK accepted\n\n'
              : 'Content-Type: command/reply\nReply-Text: -ERR invalid\n\n';
          s.write(reply.slice(0, 10));
          setImmediate(() => s.write(reply.slice(10)));
        } else if (cmd.startsWith('bgapi originate')) {
          // An unrelated event first (must be skipped), then the reply.
          s.write('Content-Type: text/event-plain\nContent-Length: 24\n\nEvent-Name: HEARTBEAT\n\n\n');
          s.write(
            'Content-Type: command/reply\nReply-Text: +OK Job-UUID: 7f4de4bc-17d7-11dd-b7a0-db4edd065621\nJob-UUID: 7f4de4bc-17d7-11dd-b7a0-db4edd065621\n\n',
          );
        } else if (cmd === 'exit') {
          s.end('Content-Type: command/reply\nReply-Text: +OK bye\n\n');
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    commands,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('asterisk ARI dialer', () => {
  let ari: Awaited<ReturnType<typeof startAriFake>>;
  beforeAll(async () => {
    ari = await startAriFake();
  });
  afterAll(async () => ari.close());

  it('originates into the dialplan with our channel id and engine variables', async () => {
    const d = createAsteriskDialer({
      publicUrl: 'https://engine.example.com',
      config: async () => ({
        ariUrl: ari.url,
        username: 'ari',
        password: 'pw',
        endpoint: 'PJSIP/{number}@trunk',
        context: 'voice-engine',
      }),
    });
    const r = await d.dial(dialReq('1001'));
    const q = ari.requests[0]!.url.searchParams;
    expect(q.get('endpoint')).toBe('PJSIP/1001@trunk');
    expect(q.get('context')).toBe('voice-engine');
    expect(q.get('channelId')).toBe(r.providerCallId);
    expect(ari.requests[0]!.body.variables).toEqual({
      VOICE_ENGINE_CALL_ID: 'c_77',
      VOICE_ENGINE_ASSISTANT_KEY: 'ast_PBX',
      VOICE_ENGINE_MEDIA_URL: 'wss://engine.example.com/media/asterisk/ast_PBX',
    });
  });

  it('maps ARI errors to final DialErrors with the message', async () => {
    const d = createAsteriskDialer({
      config: async () => ({
        ariUrl: ari.url,
        username: 'ari',
        password: 'bad',
        endpoint: 'PJSIP/{number}',
        context: 'c',
      }),
    });
    const e = (await d.dial(dialReq('1')).catch((x: unknown) => x)) as DialError;
    expect(e).toBeInstanceOf(DialError);
    expect(e.retryable).toBe(false);
    expect(e.message).toContain('Authentication required');
    const unreachable = createAsteriskDialer({
      config: async () => ({ ariUrl: 'http://127.0.0.1:9', username: 'a', password: 'b', endpoint: 'x', context: 'c' }),
    });
    expect(((await unreachable.dial(dialReq('1')).catch((x: unknown) => x)) as DialError).retryable).toBe(true);
  });
});

describe('freeswitch ESL dialer', () => {
  let esl: Awaited<ReturnType<typeof startEslFake>>;
  beforeAll(async () => {
    esl = await startEslFake('ClueCon');
  });
  afterAll(async () => esl.close());

  it('authenticates, sends bgapi originate with audio streaming on answer, and exits', async () => {
    const d = createFreeswitchDialer({
      publicUrl: 'https://engine.example.com',
      config: async () => ({
        host: '127.0.0.1',
        port: esl.port,
        password: 'ClueCon',
        dialString: 'sofia/gateway/gw/{number}',
      }),
    });
    const r = await d.dial(dialReq('+1 555 0100'));
    expect(esl.commands[0]).toBe('auth ClueCon');
    const orig = esl.commands[1]!;
    expect(orig).toMatch(/^bgapi originate \{origination_uuid=[0-9a-f-]{36},/);
    expect(orig).toContain(`origination_uuid=${r.providerCallId}`);
    expect(orig).toContain("voice_engine_call_id='c_77'");
    expect(orig).toContain(
      `api_on_answer='uuid_audio_stream ${r.providerCallId} start wss://engine.example.com/media/freeswitch/ast_PBX mono 8k'`,
    );
    expect(orig.endsWith('}sofia/gateway/gw/+15550100 &park()')).toBe(true);
  });

  it('refuses a wrong password as a final error', async () => {
    const d = createFreeswitchDialer({
      publicUrl: 'https://e.example',
      config: async () => ({ host: '127.0.0.1', port: esl.port, password: 'nope', dialString: 'x/{number}' }),
    });
    const e = (await d.dial(dialReq('1')).catch((x: unknown) => x)) as DialError;
    expect(e).toBeInstanceOf(DialError);
    expect(e.retryable).toBe(false);
    expect(e.message).toMatch(/auth/);
  });

  it('egress guard: the ESL host is checked as a literal and on the address its name resolves to', async () => {
    // Injected resolver (no /etc/hosts): the guard judges whatever DNS answers.
    const lookup: LookupFn = (host, _o, cb) =>
      host === 'pbx.example'
        ? cb(null, [{ address: '127.0.0.1', family: 4 }])
        : host === 'evil.example'
          ? cb(null, [{ address: '169.254.169.254', family: 4 }])
          : cb(Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' }), '', 0);
    const dialer = (host: string, egress?: EgressPolicy) =>
      createFreeswitchDialer({
        publicUrl: 'https://e.example',
        lookup,
        ...(egress ? { egress } : {}),
        config: async () => ({ host, port: esl.port, password: 'ClueCon', dialString: 'x/{number}' }),
      });
    const before = esl.commands.length;
    for (const [host, egress] of [
      ['169.254.169.254', undefined],
      ['evil.example', undefined],
      ['pbx.example', { blockPrivate: true }],
      ['127.0.0.1', { blockPrivate: true }],
    ] as const) {
      const e = (await dialer(host, egress)
        .dial(dialReq('1'))
        .catch((x: unknown) => x)) as DialError;
      expect(e, host).toBeInstanceOf(DialError);
      expect(e.retryable).toBe(false);
      expect(e.message).toMatch(/Egress refused: .*(link-local|loopback)/);
    }
    // The previous test's 'exit' may still be arriving; nothing else may.
    const added = () => esl.commands.slice(before).filter((c) => c !== 'exit');
    expect(added()).toEqual([]);
    const r = await dialer('pbx.example').dial(dialReq('1'));
    expect(r.providerCallId).toMatch(/^[0-9a-f-]{36}$/);
    expect(added()[0]).toBe('auth ClueCon');
  });
});

describe('ESL parser', () => {
  it('reassembles messages split anywhere, with and without bodies', () => {
    const wire = Buffer.from(
      'Content-Type: api/response\nContent-Length: 5\n\n+OK\n\nContent-Type: command/reply\nReply-Text: +OK%20x\n\n',
    );
    for (let cut = 1; cut < wire.length; cut++) {
      const p = new EslParser();
      const msgs = [...p.push(wire.subarray(0, cut)), ...p.push(wire.subarray(cut))];
      expect(msgs.map((m) => [m.headers['Content-Type'], m.body])).toEqual([
        ['api/response', '+OK\n\n'],
        ['command/reply', ''],
      ]);
      expect(msgs[1]!.headers['Reply-Text']).toBe('+OK x');
    }
  });
});
