import { admitCall } from '../api/call-limits.js';
import type { Logger } from '../log.js';
import type { CallRecord, Campaign, CampaignRow, Store, WebhookEventType } from '../store/index.js';
import { windowOpen } from './window.js';

/**
 * Dials the running campaigns: every `tickMs`, per campaign,
 *   1. rows being dialled whose call has ended get their outcome: completed (a person or a voicemail), opted out
 *      (the callee pressed the opt-out key or asked not to be called: the number joins the tenant's do-not-call
 *      list), or, for busy / no-answer / failed, a retry after the campaign's backoff (doubling) until maxAttempts;
 *   2. due rows are dialled up to the campaign's maxConcurrent (and the account's concurrent limit, which the
 *      outbound worker enforces again when it takes the line), inside the calling window of the row's (or the
 *      campaign's) time zone, never to a number on the do-not-call list;
 *   3. a campaign with nothing pending or in flight is completed.
 * All state is in the store (rows are claimed atomically), so several engine processes may run this at once. The
 * clock is injected: tests step it, nothing here waits on real time.
 */
export interface CampaignRunnerOptions {
  store: Store;
  logger: Logger;
  webhooks?: { enqueue(tenantId: string, type: WebhookEventType, payload: Record<string, unknown>): Promise<void> };
  /** The outbound worker: look at the queue now. */
  poke?: () => void;
  now?: () => number;
  tickMs?: number;
}

export interface CampaignRunner {
  start(): void;
  stop(): Promise<void>;
  /** One pass over every running campaign (the timer's work; tests call it with a stepped clock). */
  tick(): Promise<void>;
}

/** Outcomes worth another attempt. */
const RETRYABLE = new Set(['busy', 'no-answer', 'failed', 'canceled']);
/** What a callee says to be taken off the list. */
const OPT_OUT = /\b(do not|don't|never) call\b|\bstop calling\b|\bremove (me|my number)\b|\bunsubscribe\b|\bopt out\b/i;
/** A claimed row with no call yet after this is taken back (its engine died between claim and queue), ms. */
const CLAIM_LEASE_MS = 60_000;
/** A row refused by the account's hourly / daily limit waits this long, ms. */
const LIMIT_WAIT_MS = 60_000;

/** The outcome of a row's call once it has ended, or undefined while it is live. */
export function callOutcome(call: CallRecord | undefined): string | undefined {
  if (!call) return 'failed';
  switch (call.status) {
    case 'completed':
      return call.endReason === 'voicemail' ? 'voicemail' : 'completed';
    case 'busy':
    case 'no-answer':
    case 'failed':
    case 'canceled':
      return call.status;
    default:
      return undefined;
  }
}

/** The callee opted out during the call: the opt-out key, or words asking not to be called. */
export function optedOut(call: CallRecord, digit: string | undefined): boolean {
  if (digit && call.dtmf.some((d) => d.digit === digit || (typeof d.digits === 'string' && d.digits.includes(digit))))
    return true;
  return call.transcript.some((t) => t.role === 'user' && typeof t.text === 'string' && OPT_OUT.test(t.text));
}

export function createCampaignRunner(o: CampaignRunnerOptions): CampaignRunner {
  const { store, logger } = o;
  const now = o.now ?? Date.now;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  const emit = async (tenantId: string, type: WebhookEventType, payload: Record<string, unknown>) => {
    await o.webhooks?.enqueue(tenantId, type, payload).catch((err: unknown) => {
      logger.warn({ err, type }, 'campaign webhook not queued');
    });
  };
  const rowEvent = (c: Campaign, r: CampaignRow, status: string, extra: Record<string, unknown> = {}) =>
    emit(c.tenantId, 'campaign.row', {
      campaign_id: c.id,
      row_id: r.id,
      seq: r.seq,
      phone: r.phone,
      status,
      attempts: r.attempts,
      metadata: r.metadata,
      ...extra,
    });

  /** Step 1: a finished call becomes the row's result, a retry, or an opt-out. */
  async function settle(c: Campaign, r: CampaignRow, t: number): Promise<boolean> {
    if (!r.callId) {
      if (r.nextAttemptAt > t) return false;
      await store.campaigns.updateRow(r.id, { status: 'pending', attempts: Math.max(0, r.attempts - 1) });
      return true;
    }
    const call = await store.calls.get(c.tenantId, r.callId);
    const outcome = callOutcome(call);
    if (!outcome) return false;
    const answeredBy = call?.answeredBy;
    const common = { result: outcome, ...(answeredBy ? { answeredBy } : {}) };
    if (call && optedOut(call, c.settings.optOutDigit)) {
      await store.campaigns.addDnc(c.tenantId, [r.phone], 'opt_out');
      await store.campaigns.updateRow(r.id, { status: 'opted_out', ...common });
      await rowEvent(c, r, 'opted_out', { call_id: r.callId, result: outcome });
      return true;
    }
    if (RETRYABLE.has(outcome) && r.attempts < c.settings.maxAttempts) {
      const wait = c.settings.retryBackoffSec * 1000 * 2 ** (r.attempts - 1);
      await store.campaigns.updateRow(r.id, { status: 'pending', nextAttemptAt: t + wait, ...common });
      return true;
    }
    const status = RETRYABLE.has(outcome) ? 'failed' : 'completed';
    await store.campaigns.updateRow(r.id, { status, ...common });
    await rowEvent(c, r, status, { call_id: r.callId, result: outcome, answered_by: answeredBy });
    return true;
  }

  /** Step 2: dial one due row (claimed first); false when it may not be dialled now. */
  async function dial(c: Campaign, r: CampaignRow, t: number): Promise<void> {
    if (await store.campaigns.isDnc(c.tenantId, r.phone)) {
      await store.campaigns.updateRow(r.id, { status: 'dnc', result: 'do_not_call' });
      await rowEvent(c, r, 'dnc');
      return;
    }
    if (!(await store.campaigns.claim(r.id, t + CLAIM_LEASE_MS))) return;
    const attempts = r.attempts + 1;
    const s = c.settings;
    const metadata = { ...r.metadata, campaign_id: c.id, campaign_row: r.id };
    const admitted = await admitCall(store, c.tenantId, {
      create: {
        tenantId: c.tenantId,
        assistantId: c.assistantId,
        direction: 'outbound',
        status: 'queued',
        to: r.phone,
        ...(s.from ? { from: s.from } : {}),
        ...(s.channel ? { protocol: s.channel } : {}),
        metadata,
      },
    });
    if (!admitted.ok) {
      // The account's hourly / daily limit: not an attempt; the row waits.
      await store.campaigns.updateRow(r.id, {
        status: 'pending',
        attempts: r.attempts,
        nextAttemptAt: t + LIMIT_WAIT_MS,
        result: 'limit',
      });
      return;
    }
    await store.outbound.enqueue({
      tenantId: c.tenantId,
      callId: admitted.record.id,
      assistantId: c.assistantId,
      to: r.phone,
      ...(s.from ? { from: s.from } : {}),
      channel: s.channel ?? 'twilio',
      metadata,
    });
    await store.campaigns.updateRow(r.id, { callId: admitted.record.id, attempts });
    o.poke?.();
  }

  async function campaign(c: Campaign, t: number): Promise<void> {
    let live = 0;
    for (const r of await store.campaigns.dialing(c.id)) if (!(await settle(c, r, t))) live++;
    const limits = await store.account.getCallLimits(c.tenantId);
    const cap = Math.min(c.settings.maxConcurrent, limits.maxConcurrent ?? Number.POSITIVE_INFINITY) - live;
    if (cap > 0) {
      // Windows are per zone: one check per zone per pass.
      const open = new Map<string, boolean>();
      const isOpen = (zone: string) => {
        const known = open.get(zone);
        if (known !== undefined) return known;
        const v = windowOpen(c.settings.window, zone, t);
        open.set(zone, v);
        return v;
      };
      let placed = 0;
      for (const r of await store.campaigns.due(c.id, t, cap * 4 + 50)) {
        if (placed >= cap) break;
        if (!isOpen(r.timezone ?? c.settings.timezone)) continue;
        await dial(c, r, t);
        placed++;
      }
    }
    const n = await store.campaigns.counts(c.id);
    if (n.pending + n.dialing === 0) {
      await store.campaigns.setStatus(c.id, 'completed');
      await emit(c.tenantId, 'campaign.completed', { campaign_id: c.id, name: c.name, counts: n });
    }
  }

  async function tick(): Promise<void> {
    const t = now();
    let running: Campaign[];
    try {
      running = await store.campaigns.running();
    } catch (err) {
      // Store unreachable or its pool exhausted (Postgres restarting, a burst of calls): try again at the next
      // tick. Thrown from the timer, this rejection would end the process, and every call on it.
      logger.warn({ err: (err as Error).message }, 'campaign pass skipped: store unavailable');
      return;
    }
    for (const c of running) {
      try {
        await campaign(c, t);
      } catch (err) {
        logger.error({ err, campaignId: c.id }, 'campaign pass failed');
      }
    }
  }

  return {
    start() {
      if (timer) return;
      timer = setInterval(() => {
        running ??= tick().finally(() => {
          running = undefined;
        });
      }, o.tickMs ?? 2000);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
    tick,
  };
}
