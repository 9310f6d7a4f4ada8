import type { Logger } from '../log.js';
import type { OutboundOutcome, Trunk } from '../sip/outbound.js';
import type { SipServer } from '../sip/server.js';
import type { Store } from '../store/index.js';
import { recordCarrierOutcome, type WebhookSink } from './outcome.js';
import { DialError, type DialRequest, type DialResult, type OutboundDialer } from './types.js';

/**
 * Outbound calls and registration through the tenant's SIP trunk (the `sip` plugin's trunk fields), over the
 * engine's own SIP user agent (src/sip): no carrier API, no media WebSocket. The dialer places the INVITE and
 * returns at once; what the trunk answers later lands on the call record: the answered call is resolved like any
 * call (in-progress, then the session closes it), a refusal becomes busy / no-answer / failed / canceled with a
 * `call.failed` webhook, as Twilio's status callback does for Twilio calls.
 */
export interface SipTrunkConfig {
  trunk: Trunk;
  ringTimeoutMs: number;
  /** Register to the trunk as this user (`register` set), for this long (s). */
  register?: { user: string; expiresS: number };
}

const num = (v: string | undefined, dflt: number, min: number, max: number): number => {
  const n = Number(v);
  return Number.isFinite(n) && v !== undefined && v !== '' ? Math.min(max, Math.max(min, n)) : dflt;
};

/** The tenant's trunk from its `sip` plugin configuration, or undefined when no trunk host is set. */
export async function sipTrunkConfig(store: Store, tenantId: string): Promise<SipTrunkConfig | undefined> {
  const p = await store.account.getPlugin(tenantId, 'sip');
  if (p?.status !== 'active') return undefined;
  const c: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.config)) if (typeof v === 'string' || typeof v === 'number') c[k] = String(v);
  if (!c.trunkHost) return undefined;
  // trunkHost may carry a port: sip.example.com:5080 (an IPv6 literal in brackets).
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(c.trunkHost.trim());
  if (!m) return undefined;
  const transport = c.trunkTransport === 'tcp' || c.trunkTransport === 'tls' ? c.trunkTransport : 'udp';
  const host = m[1]!.replace(/^\[|\]$/g, '');
  const trunk: Trunk = {
    host,
    port: m[2] ? Number(m[2]) : transport === 'tls' ? 5061 : 5060,
    transport,
    ...(c.trunkUsername && c.trunkPassword
      ? { credentials: { username: c.trunkUsername, password: c.trunkPassword } }
      : {}),
    ...(c.fromNumber || c.trunkUsername ? { fromUser: c.fromNumber || c.trunkUsername } : {}),
    ...(c.trunkDomain ? { domain: c.trunkDomain } : {}),
  };
  const register = c.register === 'true' || c.register === '1';
  return {
    trunk,
    ringTimeoutMs: num(c.ringTimeout, 30, 5, 120) * 1000,
    ...(register
      ? {
          register: {
            user: c.trunkUsername || c.fromNumber || 'voice-engine',
            expiresS: num(c.registerExpires, 600, 60, 86_400),
          },
        }
      : {}),
  };
}

/**
 * A request that names no channel goes through the SIP trunk when the tenant configured one (trunkHost) and has
 * no active Twilio plugin (Twilio stays the default where both are set; `channel: "sip"` is then explicit).
 */
export async function sipDefaultChannel(store: Store, tenantId: string): Promise<string | undefined> {
  if (!(await sipTrunkConfig(store, tenantId))) return undefined;
  const twilio = await store.account.getPlugin(tenantId, 'twilio');
  return twilio?.status === 'active' ? undefined : 'sip';
}

export interface SipTrunkDialerOptions {
  store: Store;
  /** The engine's SIP user agent (undefined while SIP is off). */
  sip(): SipServer | undefined;
  webhooks?: WebhookSink;
  logger?: Logger;
}

/**
 * Waits (bounded) until the outbound worker has recorded this dial (the record carries our Call-ID): an outcome
 * or the answered call's resolve must land after the worker's own `ringing` write, never under it.
 */
async function recorded(store: Store, recordId: string, sipCallId: string): Promise<void> {
  for (let i = 0; i < 250; i++) {
    const r = await store.calls.find(recordId);
    if (!r || r.providerCallId === sipCallId || (r.status !== 'queued' && r.status !== 'ringing')) return;
    await new Promise((res) => setTimeout(res, 20));
  }
}

export function createSipTrunkDialer(opts: SipTrunkDialerOptions): OutboundDialer {
  const { store } = opts;
  async function outcome(req: DialRequest, o: OutboundOutcome): Promise<void> {
    if (o.kind === 'answered') return;
    const call = await store.calls.find(req.callId);
    if (!call) return;
    await recordCarrierOutcome(opts, call, {
      status: o.kind,
      source: 'sip',
      endReason: `sip: ${o.reason}`,
      extra: { sip_status: o.status ?? null },
    });
  }

  return {
    async dial(req: DialRequest): Promise<DialResult> {
      const cfg = await sipTrunkConfig(store, req.tenantId);
      if (!cfg) throw new DialError('The sip plugin has no trunk (trunkHost) configured', false);
      const sip = opts.sip();
      if (!sip) throw new DialError('SIP is off in this engine (set SIP_PORT)', false);
      let sipCallId = '';
      let placed: { callId: string };
      try {
        placed = await sip.dial({
          trunk: cfg.trunk,
          to: req.to,
          ...(req.from ? { from: req.from } : {}),
          ringTimeoutMs: cfg.ringTimeoutMs,
          resolveRequest: {
            protocol: 'sip',
            pathKey: req.assistant.assistantApiKey,
            customParameters: { callId: req.callId },
            ...(req.from ? { from: req.from } : {}),
            to: req.to,
            headers: {},
          },
          settled: () => recorded(store, req.callId, sipCallId),
          onOutcome: (o) => {
            outcome(req, o).catch((err: unknown) =>
              opts.logger?.warn({ err, callId: req.callId }, 'SIP call outcome not recorded'),
            );
          },
        });
      } catch (err) {
        // DNS, a refused TCP/TLS connection, no RTP port: trying again later may work.
        throw new DialError(`SIP trunk unreachable: ${(err as Error).message}`, true);
      }
      sipCallId = placed.callId;
      return { providerCallId: placed.callId, status: 'ringing' };
    },
  };
}

/**
 * Keeps the engine registered to every trunk that asks for it (`register` on the tenant's sip plugin), re-read
 * every `intervalMs` so that a configuration change (or a new tenant) takes effect without a restart.
 */
export function startSipRegistrations(o: { store: Store; sip: SipServer; logger: Logger; intervalMs?: number }): {
  sync(): Promise<void>;
  stop(): void;
} {
  const active = new Set<string>();
  const sync = async (): Promise<void> => {
    const want = new Set<string>();
    for (const t of await o.store.tenants.list()) {
      const cfg = await sipTrunkConfig(o.store, t.id);
      if (!cfg?.register) continue;
      const key = `tenant:${t.id}`;
      want.add(key);
      o.sip.register(key, { trunk: cfg.trunk, ...cfg.register });
    }
    for (const key of active) if (!want.has(key)) void o.sip.unregister(key);
    active.clear();
    for (const k of want) active.add(k);
  };
  const run = () => {
    sync().catch((err: unknown) => o.logger.warn({ err }, 'SIP registrations not refreshed'));
  };
  run();
  const timer = setInterval(run, o.intervalMs ?? 60_000);
  timer.unref();
  return { sync, stop: () => clearInterval(timer) };
}
