import { createPrivateKey, randomUUID, sign } from 'node:crypto';

/**
 * A Vonage application JWT (RFC 7519, RS256 per RFC 7518 section 3.3): header {alg: RS256, typ: JWT}, claims
 * {application_id, iat, exp, jti}, signed with the application's private key (PEM). Vonage accepts tokens valid for
 * up to 24 h; ours lives 5 minutes since it is made per request.
 */
const TTL_S = 300;

function b64url(s: string | Buffer): string {
  return Buffer.from(s).toString('base64url');
}

export function vonageJwt(applicationId: string, privateKeyPem: string, nowMs = Date.now()): string {
  const iat = Math.floor(nowMs / 1000);
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const claims = b64url(JSON.stringify({ application_id: applicationId, iat, exp: iat + TTL_S, jti: randomUUID() }));
  const input = `${header}.${claims}`;
  // Plugin config fields are single-line strings: accept a PEM with literal "\n" escapes too.
  const pem = privateKeyPem.includes('\\n') ? privateKeyPem.replace(/\\n/g, '\n') : privateKeyPem;
  const signature = sign('sha256', Buffer.from(input), createPrivateKey(pem));
  return `${input}.${b64url(signature)}`;
}
