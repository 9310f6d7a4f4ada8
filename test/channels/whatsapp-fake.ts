import { createHmac, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback WhatsApp Business Cloud API, as strict as the documented service on what the engine sends:
 *   POST /{version}/{phone-number-id}/messages, `Authorization: Bearer <token>`, `Content-Type: application/json`;
 *   `messaging_product: "whatsapp"`, `to`, `type` required; text needs `text.body` (at most 4096 characters);
 *   templates must exist in the requested language and get exactly the body parameters they declare.
 * Answers 200 `{messaging_product, contacts: [{input, wa_id}], messages: [{id: "wamid.…"}]}` (templates add
 * `message_status: "accepted"`), and the Graph API error shape `{error: {message, type, code, error_subcode?,
 * error_data?, fbtrace_id}}` with the documented codes: 190 (token), 100 (parameter), 131009 (parameter value),
 * 132000 (template parameter count), 132001 (template name / language).
 * `inbound()` builds a webhook body the way Meta delivers one, and `sign()` signs it with the app secret.
 */
export interface CloudRequest {
  path: string;
  authorization: string;
  body: Record<string, unknown>;
}

export async function startWhatsAppCloudFake(opts: {
  phoneNumberId: string;
  token: string;
  appSecret: string;
  displayNumber?: string;
  /** name -> language -> number of body parameters */
  templates?: Record<string, Record<string, number>>;
}) {
  const requests: CloudRequest[] = [];
  const templates = opts.templates ?? {};
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const send = (status: number, json: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(json));
    };
    const error = (status: number, code: number, message: string, more: Record<string, unknown> = {}) =>
      send(status, {
        error: {
          message,
          type: code === 190 ? 'OAuthException' : code === 100 ? 'GraphMethodException' : 'OAuthException',
          code,
          ...more,
          fbtrace_id: randomBytes(8).toString('base64url'),
        },
      });
    const m = /^\/(v\d+\.\d+)\/([^/]+)\/messages$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !m) return error(400, 100, 'Unsupported request - method type: get');
    if (req.headers.authorization !== `Bearer ${opts.token}`) {
      return error(401, 190, 'Invalid OAuth access token - Cannot parse access token');
    }
    if (m[2] !== opts.phoneNumberId) {
      return error(400, 100, `Unsupported post request. Object with ID '${m[2]}' does not exist`, {
        error_subcode: 33,
      });
    }
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      return error(400, 100, '(#100) The parameter messaging_product is required.');
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      return error(400, 100, '(#100) Invalid JSON');
    }
    requests.push({ path: req.url ?? '', authorization: req.headers.authorization ?? '', body });
    if (body.messaging_product !== 'whatsapp') {
      return error(400, 100, '(#100) The parameter messaging_product is required.');
    }
    if (typeof body.to !== 'string' || !/^\+?\d{6,15}$/.test(body.to)) {
      return error(400, 100, '(#100) The parameter to is required.');
    }
    if (body.type === 'text') {
      const t = body.text as { body?: unknown } | undefined;
      if (typeof t?.body !== 'string' || !t.body)
        return error(400, 100, "(#100) The parameter text['body'] is required.");
      if (t.body.length > 4096)
        return error(400, 100, "(#100) Param text['body'] must be at most 4096 characters long.");
    } else if (body.type === 'template') {
      const t = body.template as
        | {
            name?: unknown;
            language?: { code?: unknown };
            components?: Array<{ type?: string; parameters?: unknown[] }>;
          }
        | undefined;
      if (typeof t?.name !== 'string') return error(400, 100, "(#100) The parameter template['name'] is required.");
      if (typeof t.language?.code !== 'string') {
        return error(400, 100, "(#100) The parameter template['language']['code'] is required.");
      }
      const expected = templates[t.name]?.[t.language.code];
      if (expected === undefined) {
        return error(404, 132001, '(#132001) Template name does not exist in the translation', {
          error_data: {
            messaging_product: 'whatsapp',
            details: `template name (${t.name}) does not exist in ${t.language.code}`,
          },
        });
      }
      const given = (t.components ?? [])
        .filter((c) => c.type === 'body')
        .reduce((n, c) => n + (c.parameters?.length ?? 0), 0);
      if (given !== expected) {
        return error(400, 132000, '(#132000) Number of parameters does not match the expected number of params', {
          error_data: {
            messaging_product: 'whatsapp',
            details: `body: number of localizable_params (${given}) does not match the expected number of params (${expected})`,
          },
        });
      }
    } else if (body.type === 'image') {
      const i = body.image as { link?: unknown; id?: unknown } | undefined;
      if (typeof i?.link !== 'string' && typeof i?.id !== 'string') {
        return error(400, 131009, '(#131009) Parameter value is not valid');
      }
    } else {
      return error(400, 100, '(#100) Param type must be one of {AUDIO, CONTACTS, DOCUMENT, IMAGE, INTERACTIVE, ...}');
    }
    const waId = body.to.replace(/^\+/, '');
    return send(200, {
      messaging_product: 'whatsapp',
      contacts: [{ input: body.to, wa_id: waId }],
      messages: [
        {
          id: `wamid.${randomBytes(24).toString('base64url')}`,
          ...(body.type === 'template' ? { message_status: 'accepted' } : {}),
        },
      ],
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const display = opts.displayNumber ?? '15550001111';
  const now = () => String(Math.floor(Date.now() / 1000));
  /** The webhook envelope Meta wraps every change in (object, entry, changes, field, value with metadata). */
  const envelope = (value: Record<string, unknown>) => ({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: display, phone_number_id: opts.phoneNumberId },
              ...value,
            },
          },
        ],
      },
    ],
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    /** A `messages` webhook body with one text message from `from` (digits, as WhatsApp ids are). */
    inbound(from: string, text: string, id = `wamid.${randomBytes(18).toString('base64url')}`) {
      return envelope({
        contacts: [{ profile: { name: 'Customer' }, wa_id: from }],
        messages: [{ from, id, timestamp: now(), type: 'text', text: { body: text } }],
      });
    },
    /** A delivery receipt for a message we sent. */
    statusUpdate(messageId: string, recipient: string, status: string) {
      return envelope({ statuses: [{ id: messageId, status, timestamp: now(), recipient_id: recipient }] });
    },
    sign(raw: string, secret = opts.appSecret) {
      return `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
