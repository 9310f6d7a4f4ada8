import { describe, expect, it } from 'vitest';
import { createAdmission } from '../../src/sip/admission.js';

/** Who may call which request-URI user (src/sip/admission.ts). */
describe('SIP admission', () => {
  const admit = createAdmission({
    tenantOfNumber: async (n) => ({ '+15550001': 't_ip', '+15550002': 't_digest', '+15550003': 't_none' })[n],
    allowedIps: async (t) => (t === 't_ip' ? ['203.0.113.0/24'] : []),
    credentials: async (t) => (t === 't_digest' || t === 't_ip' ? { username: 'u', password: 'p' } : undefined),
  });

  it('admits an assistant key as is (resolve checks the key and the allowlist)', async () => {
    expect(await admit('ast_anything', '198.51.100.1')).toEqual({ kind: 'allow' });
  });

  it('admits a routed number from an allowlisted address, else asks for digest, else refuses', async () => {
    expect(await admit('+15550001', '203.0.113.7')).toEqual({ kind: 'allow' });
    expect(await admit('+15550001', '198.51.100.1')).toMatchObject({ kind: 'digest' });
    expect(await admit('+15550002', '203.0.113.7')).toMatchObject({ kind: 'digest' });
    expect(await admit('+15550003', '203.0.113.7')).toMatchObject({ kind: 'reject', status: 403 });
    expect(await admit('+19999999', '203.0.113.7')).toMatchObject({ kind: 'reject', status: 404 });
  });
});
