import { describe, expect, it, vi } from 'vitest';
import { EXIT_HELP, parseArgs } from '../../src/cli/args.js';
import { main } from '../../src/cli/index.js';

describe('cli dispatcher', () => {
  it('parses flags, values and positionals', () => {
    const a = parseArgs(['file.wav', '--protocol', 'twilio', '--fast', '-o', 'out.wav', '--calls=5'], ['fast']);
    expect(a.positional).toEqual(['file.wav']);
    expect(a.flags).toEqual({ protocol: 'twilio', fast: true, o: 'out.wav', calls: '5' });
  });

  it('rejects unknown commands with exit code 2', async () => {
    expect(await main(['no-such-command'])).toBe(2);
  });

  it('--help lists one exit code per error class, the same for every command', async () => {
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
      out += String(c);
      return true;
    });
    try {
      expect(await main(['--help'])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(out).toContain('Exit codes (every command):');
    for (const [code, what] of EXIT_HELP) expect(out).toContain(`${String(code).padEnd(4)}${what}`);
    expect(new Set(EXIT_HELP.map(([c]) => c)).size).toBe(EXIT_HELP.length);
  });
});
