import type { Store } from '../store/index.js';
import { createTwilioDialer, type TwilioCredentials } from './twilio.js';
import { DialError, type OutboundDialer } from './types.js';

/** Reads a purchased plugin's configuration as Twilio credentials. */
export async function pluginCredentials(
  store: Store,
  tenantId: string,
  pluginId: string,
): Promise<TwilioCredentials | undefined> {
  const p = await store.account.getPlugin(tenantId, pluginId);
  if (p?.status !== 'active') return undefined;
  const c = p.config;
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  return {
    accountSid: str(c.accountSid),
    authToken: str(c.authToken),
    fromNumber: str(c.fromNumber),
    ...(str(c.baseUrl) ? { baseUrl: str(c.baseUrl) } : {}),
  };
}

/**
 * The engine's outbound dialer: routes each call to the channel it names, with the tenant's own credentials
 * (plugin configuration). Asterisk ARI and FreeSWITCH ESL channels are not built yet and refuse clearly.
 */
export function createChannelDialer(opts: { store: Store; publicUrl?: string; fetch?: typeof fetch }): OutboundDialer {
  const twilio = createTwilioDialer({
    ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}),
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
    credentials: (tenantId) => pluginCredentials(opts.store, tenantId, 'twilio'),
  });
  return {
    async dial(req) {
      if (req.channel === 'twilio') return twilio.dial(req);
      throw new DialError(`Outbound channel '${req.channel}' is not available in this engine`, false);
    },
  };
}
