import { createPublicKey, generateKeyPairSync, type KeyObject, verify } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ControlRequestSeen {
  platform: string;
  method: string;
  /** Path after the platform prefix (what the real API would see). */
  path: string;
  authorization: string;
  contentType: string;
  body: string;
}

export interface FakeCreds {
  twilio: { accountSid: string; authToken: string };
  telnyx: { apiKey: string };
  plivo: { authId: string; authToken: string };
  vonage: { applicationId: string; publicKeyPem: string };
  jambonz: { accountSid: string; apiKey: string };
}

/** Credentials of the five platforms, with a fresh Vonage key pair (`vonagePrivatePem` goes in the tenant's plugin). */
export function fakeCreds(): { creds: FakeCreds; vonagePrivatePem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    creds: {
      twilio: { accountSid: 'AC0123456789abcdef0123456789abcdef', authToken: 'tw_secret_token' },
      telnyx: { apiKey: 'KEY_telnyx_secret' },
      plivo: { authId: 'MAXXXXXXXXXXXXXXXXXX', authToken: 'plivo_secret_token' },
      vonage: {
        applicationId: 'aaaaaaaa-bbbb-cccc-dddd-0123456789ab',
        publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      },
      jambonz: { accountSid: 'acc-1111', apiKey: 'jb_secret_key' },
    },
    vonagePrivatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

/** Checks a Vonage RS256 application JWT; the claims, or undefined when invalid. */
export function verifyJwt(token: string, key: KeyObject): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [h, c, s] = parts as [string, string, string];
  const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
  if (header.alg !== 'RS256' || header.typ !== 'JWT') return undefined;
  if (!verify('sha256', Buffer.from(`${h}.${c}`), key, Buffer.from(s, 'base64url'))) return undefined;
  return JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/**
 * Loopback call-control APIs of five platforms on one server, each under its own prefix (`/twilio`, `/telnyx`,
 * `/plivo`, `/vonage`, `/jambonz`: the plugins' baseUrl), answering as the real ones do (PROTOCOLS.md):
 * - twilio  POST /2010-04-01/Accounts/{sid}/Calls/{CallSid}.json  basic; 200 call JSON; ended: 404 {code: 20404}
 * - telnyx  POST /v2/calls/{id}/actions/{hangup|transfer}        Bearer; 200 {data:{result:'ok'}}; ended: 422 90018
 * - plivo   DELETE|POST /v1/Account/{authId}/Call/{uuid}/          basic; 204 | 202; ended: 404
 * - vonage  PUT /v1/calls/{uuid}                                    Bearer RS256 JWT; 204; ended: 404
 * - jambonz PUT /v1/Accounts/{sid}/Calls/{callSid}                  Bearer; 202 (call_status / call_hook); 404
 * A call id is live until hung up; `live` holds them. `failNext` queues 5xx statuses answered before the real answer.
 */
export async function startControlFake(creds: FakeCreds) {
  const requests: ControlRequestSeen[] = [];
  const live = new Set<string>();
  const failNext: number[] = [];
  const jwtClaims: Record<string, unknown>[] = [];
  const vonageKey = createPublicKey(creds.vonage.publicKeyPem);

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = req.url ?? '/';
    const slash = url.indexOf('/', 1);
    const platform = url.slice(1, slash < 0 ? undefined : slash);
    const path = slash < 0 ? '/' : url.slice(slash);
    const auth = req.headers.authorization ?? '';
    requests.push({
      platform,
      method: req.method ?? '',
      path,
      authorization: auth,
      contentType: req.headers['content-type'] ?? '',
      body,
    });
    const send = (status: number, json?: unknown) => {
      if (json === undefined) {
        res.writeHead(status);
        res.end();
        return;
      }
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(json));
    };
    const fail = failNext.shift();
    if (fail !== undefined) return send(fail, { message: 'upstream error' });
    let m: RegExpExecArray | null;
    switch (platform) {
      case 'twilio': {
        m = /^\/2010-04-01\/Accounts\/([^/]+)\/Calls\/([^/]+)\.json$/.exec(path);
        if (req.method !== 'POST' || !m) return send(404, { code: 20404, message: 'Not found', status: 404 });
        if (auth !== basic(creds.twilio.accountSid, creds.twilio.authToken) || m[1] !== creds.twilio.accountSid) {
          return send(401, { code: 20003, message: 'Authenticate', status: 401 });
        }
        const sid = decodeURIComponent(m[2]!);
        if (!live.has(sid)) {
          return send(404, { code: 20404, message: `The requested resource ${path} was not found`, status: 404 });
        }
        const form = new URLSearchParams(body);
        if (form.get('Status') === 'completed') live.delete(sid);
        return send(200, { sid, status: form.get('Status') ?? 'in-progress' });
      }
      case 'telnyx': {
        m = /^\/v2\/calls\/([^/]+)\/actions\/(hangup|transfer)$/.exec(path);
        if (req.method !== 'POST' || !m) return send(404, { errors: [{ code: '10005', title: 'Resource not found' }] });
        if (auth !== `Bearer ${creds.telnyx.apiKey}`) {
          return send(401, { errors: [{ code: '10009', title: 'Authentication failed' }] });
        }
        const id = decodeURIComponent(m[1]!);
        if (!live.has(id)) return send(422, { errors: [{ code: '90018', title: 'Call has already ended' }] });
        if (m[2] === 'hangup') live.delete(id);
        return send(200, { data: { result: 'ok' } });
      }
      case 'plivo': {
        m = /^\/v1\/Account\/([^/]+)\/Call\/([^/]+)\/$/.exec(path);
        if (!m) return send(404, { error: 'not found' });
        if (auth !== basic(creds.plivo.authId, creds.plivo.authToken) || m[1] !== creds.plivo.authId) {
          return send(401, { error: 'authentication failed' });
        }
        const id = decodeURIComponent(m[2]!);
        if (!live.has(id)) return send(404, { api_id: 'x', error: 'not found' });
        if (req.method === 'DELETE') {
          live.delete(id);
          return send(204);
        }
        return send(202, { api_id: 'x', message: 'call transferred' });
      }
      case 'vonage': {
        m = /^\/v1\/calls\/([^/]+)$/.exec(path);
        if (req.method !== 'PUT' || !m) return send(404, { title: 'Not Found' });
        const claims = auth.startsWith('Bearer ') ? verifyJwt(auth.slice(7), vonageKey) : undefined;
        if (!claims || claims.application_id !== creds.vonage.applicationId) {
          return send(401, { type: 'https://developer.nexmo.com/api-errors#unauthorized', title: 'Unauthorized' });
        }
        jwtClaims.push(claims);
        const id = decodeURIComponent(m[1]!);
        if (!live.has(id)) return send(404, { title: 'Not Found', detail: 'call not found' });
        if ((JSON.parse(body) as { action?: string }).action === 'hangup') live.delete(id);
        return send(204);
      }
      case 'jambonz': {
        m = /^\/v1\/Accounts\/([^/]+)\/Calls\/([^/]+)$/.exec(path);
        if (req.method !== 'PUT' || !m) return send(404, { msg: 'not found' });
        if (auth !== `Bearer ${creds.jambonz.apiKey}` || m[1] !== creds.jambonz.accountSid) {
          return send(401, { msg: 'unauthorized' });
        }
        const id = decodeURIComponent(m[2]!);
        if (!live.has(id)) return send(404, { msg: 'call not found' });
        if ((JSON.parse(body) as { call_status?: string }).call_status === 'completed') live.delete(id);
        return send(202);
      }
      default:
        return send(404);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    live,
    failNext,
    jwtClaims,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
