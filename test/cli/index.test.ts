import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/args.js';
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
});
