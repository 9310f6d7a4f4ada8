import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

/**
 * Debian's baresip (a SIP phone nobody here wrote) driven headless: a config dir with the g711, g722, aufile (microphone
 * from a WAV), sndfile (keeps what it heard, decoded, as dump-*-dec.wav) and stdio (commands and DTMF keys on
 * standard input) modules, no jitter buffer (so the recording is what arrived), the SIP trace on (-s) so a test can
 * see the requests we sent it.
 */
export const BARESIP = '/usr/bin/baresip';
export const hasBaresip = existsSync(BARESIP) && existsSync('/usr/lib/baresip/modules/g711.so');

export interface BaresipCall {
  /** Everything baresip printed so far (SIP trace included). */
  readonly output: string;
  readonly recDir: string;
  /** A line on baresip's standard input: a `/command`, or DTMF keys during a call. */
  send(text: string): void;
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  /** The decoded audio baresip heard (the sndfile dump), once the call is over. */
  heardWav(): Promise<string | undefined>;
  stop(): Promise<void>;
}

export function dialWithBaresip(opts: {
  dir: string;
  uri: string;
  wav: string;
  rtpPorts: string;
  codec?: 'PCMU' | 'PCMA' | 'G722';
}): Promise<BaresipCall> {
  return startBaresip({ ...opts, dial: opts.uri });
}

/** baresip waiting for calls to `user` on `sipPort`, answering each one at once (answermode=auto). */
export function answerWithBaresip(opts: {
  dir: string;
  wav: string;
  rtpPorts: string;
  sipPort: number;
  user: string;
}): Promise<BaresipCall> {
  return startBaresip({ ...opts, answer: true });
}

async function startBaresip(opts: {
  dir: string;
  wav: string;
  rtpPorts: string;
  codec?: 'PCMU' | 'PCMA' | 'G722';
  dial?: string;
  answer?: boolean;
  sipPort?: number;
  user?: string;
}): Promise<BaresipCall> {
  const recDir = path.join(opts.dir, 'rec');
  await mkdir(recDir, { recursive: true });
  const sipPort = opts.sipPort ?? (await freeSipPort());
  const config = [
    'poll_method poll',
    `sip_listen 127.0.0.1:${sipPort}`,
    'audio_player alsa,null',
    'audio_alert alsa,null',
    `audio_source aufile,${opts.wav}`,
    `audio_srate ${opts.codec === 'G722' ? 16000 : 8000}`,
    'audio_channels 1',
    `rtp_ports ${opts.rtpPorts}`,
    'jitter_buffer_delay 0-0',
    'module_path /usr/lib/baresip/modules',
    'module stdio.so',
    'module g711.so',
    'module g722.so',
    'module aufile.so',
    'module alsa.so',
    'module sndfile.so',
    'module_app account.so',
    'module_app menu.so',
    `snd_path ${recDir}`,
    '',
  ].join('\n');
  await writeFile(path.join(opts.dir, 'config'), config);
  await writeFile(
    path.join(opts.dir, 'accounts'),
    `<sip:${opts.user ?? 'caller'}@127.0.0.1>;regint=0;audio_codecs=${opts.codec === 'G722' ? 'G722/16000/1' : (opts.codec ?? 'PCMU')}${opts.answer ? ';answermode=auto' : ''}\n`,
  );
  const args = ['-s', '-f', opts.dir, ...(opts.dial ? ['-e', `/dial ${opts.dial}`] : [])];
  const proc: ChildProcessWithoutNullStreams = spawn(BARESIP, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  const onData = (d: Buffer) => {
    output += d.toString('utf8');
    for (const w of [...waiters]) {
      if (w.re.test(output)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    get output() {
      return output;
    },
    recDir,
    send(text) {
      if (!proc.stdin.destroyed) proc.stdin.write(text.startsWith('/') ? `${text}\n` : text);
    },
    waitFor(re, timeoutMs = 15_000) {
      if (re.test(output)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const w = { re, resolve };
        waiters.push(w);
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i < 0) return;
          waiters.splice(i, 1);
          reject(new Error(`baresip: no ${re} in time; output tail:\n${output.slice(-3000)}`));
        }, timeoutMs).unref();
      });
    },
    async heardWav() {
      const f = (await readdir(recDir)).find((n) => n.endsWith('-dec.wav'));
      return f ? path.join(recDir, f) : undefined;
    },
    async stop() {
      if (proc.exitCode === null) {
        proc.stdin.write('/quit\n');
        const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

/**
 * A port free for both UDP and TCP on loopback (baresip listens on both): the kernel's pick for TCP, kept only if
 * UDP can bind it too.
 */
async function freeSipPort(): Promise<number> {
  for (;;) {
    const tcp = net.createServer();
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    const port = (tcp.address() as net.AddressInfo).port;
    const udp = dgram.createSocket('udp4');
    const ok = await new Promise<boolean>((r) => {
      udp.once('error', () => r(false));
      udp.bind(port, '127.0.0.1', () => r(true));
    });
    udp.close();
    await new Promise((r) => tcp.close(r));
    if (ok) return port;
  }
}

/**
 * A real-speech prompt (Asterisk core sounds, 8 kHz) as the phone's microphone: 5 s of silence first (the caller
 * listens to the greeting), then the prompt, then silence so that baresip's aufile lasts the call.
 */
export function speechWav(dir: string, name = 'hello-world', rate = 8000): string {
  const out = path.join(dir, `${name}-${rate}-padded.wav`);
  execFileSync('sox', [
    `/usr/share/asterisk/sounds/en/${name}.wav`,
    '-r',
    String(rate),
    '-c',
    '1',
    '-b',
    '16',
    out,
    'pad',
    '5',
    '60',
  ]);
  return out;
}
