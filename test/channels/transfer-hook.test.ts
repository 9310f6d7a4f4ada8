import { describe, expect, it } from 'vitest';
import {
  jambonzDialVerbs,
  plivoDialXml,
  transferHookUrl,
  verifyTransferHook,
} from '../../src/channels/transfer-hook.js';

const NOW = 1_800_000_000_000;
const query = (url: string) => Object.fromEntries(new URL(url).searchParams) as Record<string, string>;

describe('signed transfer documents', () => {
  it('a URL verifies for its platform, tenant, target and secret until it expires (600 s)', () => {
    const url = transferHookUrl('https://e.example/', 'plivo', 't_1', '+15551234567', 'tok', NOW);
    expect(url.startsWith('https://e.example/webhook/transfer/plivo?t=t_1&to=%2B15551234567&exp=1800000600&sig=')).toBe(
      true,
    );
    const q = query(url);
    expect(verifyTransferHook('plivo', q, 'tok', NOW)).toBe('+15551234567');
    expect(verifyTransferHook('plivo', q, 'tok', NOW + 600_000)).toBe('+15551234567');
    expect(verifyTransferHook('plivo', q, 'tok', NOW + 601_000)).toBeUndefined();
    expect(verifyTransferHook('jambonz', q, 'tok', NOW)).toBeUndefined();
    expect(verifyTransferHook('plivo', q, 'other', NOW)).toBeUndefined();
    expect(verifyTransferHook('plivo', { ...q, to: '+19000000000' }, 'tok', NOW)).toBeUndefined();
    expect(verifyTransferHook('plivo', { ...q, t: 't_2' }, 'tok', NOW)).toBeUndefined();
    expect(verifyTransferHook('plivo', { ...q, exp: String(Number(q.exp) + 1) }, 'tok', NOW)).toBeUndefined();
    expect(verifyTransferHook('plivo', { ...q, sig: 'zz' }, 'tok', NOW)).toBeUndefined();
    expect(verifyTransferHook('plivo', { t: q.t, to: q.to, exp: q.exp }, 'tok', NOW)).toBeUndefined();
  });

  it('Plivo <Dial> XML and jambonz dial verbs for numbers and SIP URIs', () => {
    expect(plivoDialXml({ kind: 'phone', value: '+15551234567' })).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Dial><Number>15551234567</Number></Dial></Response>',
    );
    expect(plivoDialXml({ kind: 'sip', value: 'sip:a@b.example' })).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Dial><User>sip:a@b.example</User></Dial></Response>',
    );
    expect(jambonzDialVerbs({ kind: 'phone', value: '+15551234567' })).toEqual([
      { verb: 'dial', target: [{ type: 'phone', number: '+15551234567' }] },
    ]);
    expect(jambonzDialVerbs({ kind: 'sip', value: 'sip:a@b.example' })).toEqual([
      { verb: 'dial', target: [{ type: 'sip', sipUri: 'sip:a@b.example' }] },
    ]);
  });
});
