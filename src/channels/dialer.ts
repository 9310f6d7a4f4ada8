import type { EgressPolicy } from '../net/policy.js';
import { type Store, testModeOf } from '../store/index.js';
import { type AriConfig, createAsteriskDialer } from './asterisk.js';
import { createFreeswitchDialer, type FreeswitchConfig } from './freeswitch.js';
import { createSipTrunkDialer, type SipTrunkDialerOptions, sipDefaultChannel } from './sip-trunk.js';
import { createTwilioDialer, type TwilioCredentials } from './twilio.js';
import { type DialBlocker, DialError, type OutboundDialer } from './types.js';

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

/** A purchased plugin's configuration as plain strings (numbers kept as strings), or undefined. */
async function pluginStrings(
  store: Store,
  tenantId: string,
  pluginId: string,
): Promise<Record<string, string> | undefined> {
  const p = await store.account.getPlugin(tenantId, pluginId);
  if (p?.status !== 'active') return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.config)) if (typeof v === 'string' || typeof v === 'number') out[k] = String(v);
  return out;
}

/** Per outbound channel: the plugin fields a call needs, and whether carriers must reach PUBLIC_URL. */
const CHANNEL_NEEDS: Record<string, { fields: string[]; publicUrl: boolean }> = {
  twilio: { fields: ['accountSid', 'authToken'], publicUrl: true },
  asterisk: { fields: ['ariUrl', 'username', 'password', 'endpoint', 'context'], publicUrl: false },
  freeswitch: { fields: ['host', 'password', 'dialString'], publicUrl: true },
  sip: { fields: ['trunkHost'], publicUrl: false },
};

/** Why `channel` cannot dial for this tenant now, or null (DialBlocker codes are API error codes). */
export async function channelBlocker(
  store: Store,
  tenantId: string,
  channel: string,
  publicUrl: string | undefined,
  from?: string,
): Promise<DialBlocker | null> {
  const needs = CHANNEL_NEEDS[channel];
  if (!needs) return { code: 'CHANNEL_NOT_CONFIGURED', message: `Outbound channel '${channel}' is not available` };
  if (needs.publicUrl && !publicUrl) {
    return {
      code: 'PUBLIC_URL_NOT_SET',
      message: `PUBLIC_URL is not set on this engine: ${channel} cannot reach its media endpoint`,
    };
  }
  const cfg = await pluginStrings(store, tenantId, channel);
  const fields = channel === 'twilio' && !from ? [...needs.fields, 'fromNumber'] : needs.fields;
  const missing = cfg ? fields.filter((f) => !cfg[f]) : fields;
  if (!cfg || missing.length > 0) {
    return {
      code: 'CHANNEL_NOT_CONFIGURED',
      message: cfg
        ? `The ${channel} plugin is missing ${missing.join(', ')} (PUT /api/v1/account/plugins/configuration/${channel})`
        : `The ${channel} plugin is not purchased (POST /api/v1/account/plugins/purchase {"pluginId":"${channel}"})`,
    };
  }
  return null;
}

/**
 * The engine's outbound dialer: routes each call to the channel it names (twilio, asterisk, freeswitch), with the
 * tenant's own credentials (its plugin configuration).
 */
export function createChannelDialer(opts: {
  store: Store;
  publicUrl?: string;
  /** For tenant-configured URLs (Twilio baseUrl, ARI URL); default: the SSRF-guarded fetch (src/net/egress.ts). */
  fetch?: typeof fetch;
  /** For the FreeSWITCH ESL host (a TCP connection, not fetch); default: from the environment. */
  egress?: EgressPolicy;
  /** SIP trunks: the engine's SIP user agent and where call.failed goes (src/channels/sip-trunk.ts). */
  sip?: Omit<SipTrunkDialerOptions, 'store'>;
  /** Test-mode tenants' carrier (src/channels/simulated.ts); without it their calls are refused, never dialed. */
  simulated?: OutboundDialer;
}): OutboundDialer {
  const isTest = testModeOf(opts.store);
  const twilio = createTwilioDialer({
    ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}),
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
    credentials: (tenantId) => pluginCredentials(opts.store, tenantId, 'twilio'),
  });
  const asterisk = createAsteriskDialer({
    ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}),
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
    config: async (tenantId) => {
      const c = await pluginStrings(opts.store, tenantId, 'asterisk');
      return c && (c as unknown as AriConfig);
    },
  });
  const freeswitch = createFreeswitchDialer({
    ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}),
    ...(opts.egress ? { egress: opts.egress } : {}),
    config: async (tenantId) => {
      const c = await pluginStrings(opts.store, tenantId, 'freeswitch');
      if (!c) return undefined;
      return { ...(c as unknown as FreeswitchConfig), ...(c.port ? { port: Number(c.port) } : {}) };
    },
  });
  const sip = opts.sip && createSipTrunkDialer({ store: opts.store, ...opts.sip });
  return {
    unavailable: async (tenantId, channel, from) =>
      (await isTest(tenantId))
        ? null
        : channel === 'sip' && !opts.sip?.sip()
          ? { code: 'CHANNEL_NOT_CONFIGURED', message: 'SIP is off in this engine (set SIP_PORT)' }
          : channelBlocker(opts.store, tenantId, channel, opts.publicUrl, from),
    defaultChannel: async (tenantId) => (opts.sip?.sip() ? sipDefaultChannel(opts.store, tenantId) : undefined),
    async dial(req) {
      // Test mode: the simulated carrier only, whatever the channel.
      if (await isTest(req.tenantId)) {
        if (!opts.simulated) throw new DialError('Test mode: this engine has no simulated carrier', false);
        return opts.simulated.dial(req);
      }
      if (req.channel === 'sip' && sip) return sip.dial(req);
      if (req.channel === 'twilio') return twilio.dial(req);
      if (req.channel === 'asterisk') return asterisk.dial(req);
      if (req.channel === 'freeswitch') return freeswitch.dial(req);
      throw new DialError(`Outbound channel '${req.channel}' is not available in this engine`, false);
    },
  };
}
