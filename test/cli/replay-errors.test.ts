/**
 * `replay` error paths: every bad input fails at once with one message and the exit code of its class (EXIT), before
 * an engine or a socket exists; `--url` failures (refused connection, a stream the engine closes with 4xxx) fail
 * with EXIT.connection; `--fast` stays under the engine's flood limit; mp3 and ogg recordings replay.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CliError, EXIT } from '../../src/cli/args.js';
import { replay } from '../../src/cli/replay.js';
import { silentLogger } from '../../src/log.js';
import { attachGateway } from '../../src/telephony/gateway.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 've-replay-err-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const MENU = path.resolve('fixtures/calls/dtmf-menu.wav');

async function failure(args: string[]): Promise<CliError> {
  const lines: string[] = [];
  const err = await replay(args, (l) => lines.push(l)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, args.join(' ')).toBeInstanceOf(CliError);
  expect(lines, 'nothing printed on stdout').toEqual([]);
  return err as CliError;
}

describe('replay: bad input exits at once', () => {
  it('not audio, missing, empty, a bad scenario, a bad wire recording: input (3)', async () => {
    const text = path.join(tmp, 'notawav.txt');
    writeFileSync(text, 'hello, this is not audio\n');
    const e1 = await failure([text]);
    expect(e1.exitCode).toBe(EXIT.input);
    expect(e1.message).toMatch(/notawav\.txt: not an audio file/);
    expect((await failure([path.join(tmp, 'missing.wav')])).exitCode).toBe(EXIT.input);
    const riff = path.join(tmp, 'broken.wav');
    writeFileSync(riff, 'RIFF');
    expect((await failure([riff])).message).toMatch(/broken\.wav/);
    const badScenario = path.join(tmp, 'bad.json');
    writeFileSync(badScenario, '{not json');
    const e2 = await failure([MENU, '--scenario', badScenario]);
    expect(e2.exitCode).toBe(EXIT.input);
    expect(e2.message).toMatch(/bad\.json/);
    const emptyWire = path.join(tmp, 'empty.jsonl');
    writeFileSync(emptyWire, '{"wire":1,"protocol":"twilio"}\n');
    expect((await failure([emptyWire])).message).toMatch(/no wire messages/);
  });

  it('a bad command line: usage (2); an --out folder that does not exist: output (6)', async () => {
    expect((await failure([])).exitCode).toBe(EXIT.usage);
    expect((await failure([MENU, '--protocol', 'telnyx'])).exitCode).toBe(EXIT.usage);
    expect((await failure([MENU, '--url', 'http://127.0.0.1:1'])).exitCode).toBe(EXIT.usage);
    expect((await failure([MENU, '--out', path.join(tmp, 'no/such/dir/agent.wav')])).exitCode).toBe(EXIT.io);
  });
});

describe('replay --url: a refused stream is a failure', () => {
  it('connection refused: connection (4)', async () => {
    const s = http.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    const e = await failure([MENU, '--url', `ws://127.0.0.1:${port}/media/twilio`]);
    expect(e.exitCode).toBe(EXIT.connection);
    expect(e.message).toMatch(/cannot connect/);
  });

  it('the engine closes the stream with 4xxx (no assistant for the key): connection (4), with the code', async () => {
    const server = http.createServer((_q, r) => r.end());
    const gateway = attachGateway(server, {
      logger: silentLogger,
      resolve: async () => ({ ok: false, code: 4004, reason: 'unknown assistant key' }),
      onCall: () => undefined,
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const e = await failure([
        MENU,
        '--url',
        `ws://127.0.0.1:${port}/media/twilio`,
        '--assistant',
        'ast_wrong',
        '--json',
      ]);
      expect(e.exitCode).toBe(EXIT.connection);
      expect(e.message).toMatch(/4004/);
    } finally {
      await gateway.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }, 30_000);
});

describe('replay: files as users have them', () => {
  it('replays an mp3 and an ogg of a fixture (ffmpeg), with its scenario; --fast stays under the flood limit', async () => {
    for (const ext of ['mp3', 'ogg']) {
      const file = path.join(tmp, `menu.${ext}`);
      execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', MENU, ...(ext === 'ogg' ? ['-c:a', 'libvorbis'] : []), file]);
      const lines: string[] = [];
      const r = await replay([file, '--scenario', MENU.replace(/\.wav$/, '.json'), '--json', '--fast'], (l) =>
        lines.push(l),
      );
      const report = JSON.parse(lines[0]!) as { expectations: { ok: boolean; failures: string[] }; endReason?: string };
      // The DTMF menu hinges on the key press heard in the decoded audio: the transfer proves the audio arrived.
      expect(report.expectations.failures, ext).toEqual([]);
      expect(r.code).toBe(0);
      expect(report.endReason ?? '').not.toMatch(/4029|flood/);
    }
  }, 120_000);
});
