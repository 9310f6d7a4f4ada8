import { randomUUID } from 'node:crypto';
import type { LookupFunction } from 'node:net';
import {
  createGuardedLookup,
  EgressBlockedError,
  type EgressPolicy,
  egressPolicyFromEnv,
  type LookupFn,
} from '../net/egress.js';
import { checkHost } from '../net/policy.js';
import { EslClient } from './esl.js';
import { wsBase } from './twiml.js';
import { DialError, type DialRequest, type DialResult, type OutboundDialer } from './types.js';

export interface FreeswitchConfig {
  host: string;
  port?: number;
  password: string;
  /** Dial string template: `{number}` is replaced, e.g. `sofia/gateway/mygw/{number}`. */
  dialString: string;
  callerId?: string;
  /** mod_audio_stream sample rate: 8k or 16k. */
  sampleRate?: '8k' | '16k';
}

export interface FreeswitchDialerOptions {
  publicUrl?: string;
  config(tenantId: string): Promise<FreeswitchConfig | undefined>;
  timeoutMs?: number;
  /** The ESL host is tenant configuration: checked against this policy (default: from the environment). */
  egress?: EgressPolicy;
  /** Resolver behind the egress guard (tests inject one; default dns.lookup). */
  lookup?: LookupFn;
}

/** Channel-variable values in an originate `{…}` block cannot hold commas or quotes unescaped. */
function chanVar(v: string): string {
  return `'${v.replace(/'/g, '').replace(/,/g, '\\,')}'`;
}

/**
 * Outbound calls through FreeSWITCH's Event Socket: `bgapi originate` with our own origination_uuid and, on
 * answer, `uuid_audio_stream` (mod_audio_stream) to this engine's /media/freeswitch/<assistantApiKey> endpoint.
 */
export function createFreeswitchDialer(opts: FreeswitchDialerOptions): OutboundDialer {
  const egress = opts.egress ?? egressPolicyFromEnv();
  // net's LookupFunction and ours are the same dns.lookup shape; Node's typing of the callback is narrower.
  const lookup = createGuardedLookup(egress, opts.lookup) as unknown as LookupFunction;
  return {
    async dial(req: DialRequest): Promise<DialResult> {
      const cfg = await opts.config(req.tenantId);
      if (!cfg?.host || !cfg.password || !cfg.dialString) {
        throw new DialError(
          'The freeswitch plugin is not purchased or not configured (host, password, dialString)',
          false,
        );
      }
      if (!opts.publicUrl)
        throw new DialError('PUBLIC_URL is not set: FreeSWITCH cannot reach the media endpoint', false);
      const uuid = randomUUID();
      const media = `${wsBase(opts.publicUrl)}/media/freeswitch/${req.assistant.assistantApiKey}`;
      const vars = [
        `origination_uuid=${uuid}`,
        `voice_engine_call_id=${chanVar(req.callId)}`,
        `api_on_answer=${chanVar(`uuid_audio_stream ${uuid} start ${media} mono ${cfg.sampleRate ?? '8k'}`)}`,
      ];
      const callerId = req.from ?? cfg.callerId;
      if (callerId) vars.push(`origination_caller_id_number=${chanVar(callerId)}`);
      const dial = cfg.dialString.replace('{number}', req.to.replace(/[^0-9+*#]/g, ''));
      // A literal IP never reaches the lookup: checked here; names are checked on the address they resolve to.
      const refused = checkHost(cfg.host, egress);
      if (refused) throw new DialError(`FreeSWITCH ESL: Egress refused: ${refused}`, false);
      let esl: EslClient;
      try {
        esl = await EslClient.connect(cfg.host, cfg.port ?? 8021, cfg.password, opts.timeoutMs, lookup);
      } catch (err) {
        const msg = (err as Error).message;
        throw new DialError(`FreeSWITCH ESL: ${msg}`, !(err instanceof EgressBlockedError) && !/auth/i.test(msg));
      }
      try {
        const r = await esl.command(`bgapi originate {${vars.join(',')}}${dial} &park()`);
        const reply = r.headers['Reply-Text'] ?? '';
        if (!reply.startsWith('+OK')) throw new DialError(`FreeSWITCH refused originate: ${reply}`, false);
        return { providerCallId: uuid, status: 'queued' };
      } catch (err) {
        if (err instanceof DialError) throw err;
        throw new DialError(`FreeSWITCH ESL: ${(err as Error).message}`, true);
      } finally {
        esl.close();
      }
    },
  };
}
