import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TwilioRequest {
  path: string;
  authorization: string;
  contentType: string;
  form: Record<string, string>;
}

/**
 * A loopback Twilio REST API: POST /2010-04-01/Accounts/{AccountSid}/Calls.json and Messages.json, form-encoded,
 * HTTP basic auth (AccountSid:AuthToken), answering 201 with Twilio's JSON resource or its error shape
 * {code, message, more_info, status}. `failNext` queues statuses to answer before succeeding. `hold()` keeps the
 * answers to authenticated requests back until `release()` (`inFlight` / `maxInFlight` count them: concurrency).
 */
export async function startTwilioFake(creds: { sid: string; token: string }) {
  const requests: TwilioRequest[] = [];
  const failNext: number[] = [];
  const flight = { inFlight: 0, maxInFlight: 0 };
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  const server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
    requests.push({
      path: req.url ?? '',
      authorization: req.headers.authorization ?? '',
      contentType: req.headers['content-type'] ?? '',
      form,
    });
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const expected = `Basic ${Buffer.from(`${creds.sid}:${creds.token}`).toString('base64')}`;
    const m = /^\/2010-04-01\/Accounts\/([^/]+)\/(Calls|Messages)\.json$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !m)
      return send(404, { code: 20404, message: 'The requested resource was not found', status: 404 });
    if (req.headers.authorization !== expected || m[1] !== creds.sid) {
      return send(401, {
        code: 20003,
        message: 'Authenticate',
        more_info: 'https://www.twilio.com/docs/errors/20003',
        status: 401,
      });
    }
    if (gate) {
      flight.inFlight++;
      flight.maxInFlight = Math.max(flight.maxInFlight, flight.inFlight);
      await gate;
      flight.inFlight--;
    }
    const fail = failNext.shift();
    if (fail) return send(fail, { code: 20500, message: 'Internal Server Error', status: fail });
    if (m[2] === 'Calls') {
      if (!form.To || !form.From || !(form.Twiml || form.Url)) {
        return send(400, { code: 21201, message: 'No To, From or Twiml/Url', status: 400 });
      }
      return send(201, {
        sid: `CA${randomBytes(16).toString('hex')}`,
        account_sid: creds.sid,
        to: form.To,
        from: form.From,
        status: 'queued',
      });
    }
    if (!form.To || !form.Body) return send(400, { code: 21602, message: 'Message body is required', status: 400 });
    return send(201, {
      sid: `SM${randomBytes(16).toString('hex')}`,
      to: form.To,
      from: form.From,
      body: form.Body,
      status: 'queued',
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    failNext,
    flight,
    hold() {
      gate ??= new Promise<void>((r) => {
        open = r;
      });
    },
    release() {
      open?.();
      gate = undefined;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A tenant with an assistant and the Twilio plugin configured for the fake (outbound tests). */
export async function twilioTenant(
  store: import('../../src/store/index.js').Store,
  fake: { url: string },
  creds: { sid: string; token: string },
): Promise<{ tenantId: string; assistantId: string }> {
  const t = await store.tenants.create({ email: 'a@x' });
  const a = await store.assistants.create(t.id, {});
  await store.account.purchasePlugin(t.id, 'twilio', 0);
  await store.account.configurePlugin(t.id, 'twilio', {
    accountSid: creds.sid,
    authToken: creds.token,
    fromNumber: '+15550001111',
    baseUrl: fake.url,
  });
  return { tenantId: t.id, assistantId: a.id };
}
