import { randomUUID } from 'node:crypto';
import { defaultGuardedFetch, EgressBlockedError } from '../net/egress.js';
import { wsBase } from './twiml.js';
import { DialError, type DialRequest, type DialResult, type OutboundDialer } from './types.js';

export interface AriConfig {
  /** ARI base URL, e.g. http://pbx:8088 (the /ari prefix is added). */
  ariUrl: string;
  username: string;
  password: string;
  /** Dial string template: `{number}` is replaced, e.g. `PJSIP/{number}@trunk`. */
  endpoint: string;
  /** Dialplan location the answered call enters; it bridges the call to our media endpoint (see README). */
  context: string;
  extension?: string;
  callerId?: string;
}

export interface AriDialerOptions {
  publicUrl?: string;
  config(tenantId: string): Promise<AriConfig | undefined>;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/**
 * Outbound calls through Asterisk ARI: `POST /ari/channels` (originate) with our own channel id, into the dialplan
 * `context`/`extension`, carrying channel variables the dialplan uses to reach this engine:
 *   VOICE_ENGINE_CALL_ID, VOICE_ENGINE_ASSISTANT_KEY, VOICE_ENGINE_MEDIA_URL (wss://…/media/asterisk/ast_…).
 */
export function createAsteriskDialer(opts: AriDialerOptions): OutboundDialer {
  // ariUrl is tenant configuration: by default only egress-policy destinations (src/net/egress.ts).
  const doFetch = opts.fetch ?? defaultGuardedFetch();
  return {
    async dial(req: DialRequest): Promise<DialResult> {
      const cfg = await opts.config(req.tenantId);
      if (!cfg?.ariUrl || !cfg.username || !cfg.password || !cfg.endpoint || !cfg.context) {
        throw new DialError(
          'The asterisk plugin is not purchased or not configured (ariUrl, username, password, endpoint, context)',
          false,
        );
      }
      const channelId = randomUUID();
      const q = new URLSearchParams({
        endpoint: cfg.endpoint.replace('{number}', req.to),
        context: cfg.context,
        extension: cfg.extension ?? 's',
        priority: '1',
        channelId,
        timeout: '30',
      });
      const callerId = req.from ?? cfg.callerId;
      if (callerId) q.set('callerId', callerId);
      const variables: Record<string, string> = {
        VOICE_ENGINE_CALL_ID: req.callId,
        VOICE_ENGINE_ASSISTANT_KEY: req.assistant.assistantApiKey,
      };
      if (opts.publicUrl) {
        variables.VOICE_ENGINE_MEDIA_URL = `${wsBase(opts.publicUrl)}/media/asterisk/${req.assistant.assistantApiKey}`;
      }
      let res: Response;
      try {
        res = await doFetch(`${cfg.ariUrl.replace(/\/$/, '')}/ari/channels?${q}`, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from(`${cfg.username}:${cfg.password}`).toString('base64')}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({ variables }),
          signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000),
        });
      } catch (err) {
        throw new DialError(
          `Asterisk ARI unreachable: ${(err as Error).message}`,
          !(err instanceof EgressBlockedError),
        );
      }
      const text = await res.text();
      if (!res.ok) {
        // ARI errors are {"message": "..."}.
        let msg = res.statusText;
        try {
          msg = String((JSON.parse(text) as { message?: string }).message ?? msg);
        } catch {
          // keep the status text
        }
        throw new DialError(`Asterisk ARI ${res.status}: ${msg}`, res.status >= 500, res.status);
      }
      return { providerCallId: channelId, status: 'queued' };
    },
  };
}
