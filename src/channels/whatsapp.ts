import { EngineError } from '../errors.js';
import type { Store } from '../store/index.js';
import { pluginCredentials } from './dialer.js';
import { twilioPost } from './twilio.js';
import type { MessageSender } from './types.js';

const wa = (n: string) => (n.startsWith('whatsapp:') ? n : `whatsapp:${n}`);

/** WhatsApp through Twilio Messages.json (To/From prefixed `whatsapp:`), with the tenant's whatsapp plugin config. */
export function createTwilioWhatsApp(opts: { store: Store; fetch?: typeof fetch }): MessageSender {
  return {
    async send(req) {
      const creds = await pluginCredentials(opts.store, req.tenantId, 'whatsapp');
      if (!creds?.accountSid || !creds.authToken || !(req.from ?? creds.fromNumber)) {
        throw new EngineError(
          'UNPROCESSABLE',
          'The whatsapp plugin is not purchased or not configured (accountSid, authToken, fromNumber)',
        );
      }
      const form: Record<string, string> = { To: wa(req.to), From: wa(req.from ?? creds.fromNumber), Body: req.text };
      if (req.mediaUrl) form.MediaUrl = req.mediaUrl;
      try {
        const body = await twilioPost(creds, 'Messages.json', form, opts.fetch);
        return { providerMessageId: String(body.sid ?? ''), status: String(body.status ?? 'queued') };
      } catch (err) {
        throw new EngineError('PROVIDER_ERROR', (err as Error).message);
      }
    },
  };
}
