import { admitCall } from './api/call-limits.js';
import { authorizeStream } from './api/media-access.js';
import type { PrecallDecision } from './api/outbound-start.js';
import { type CallRecoveryDeps, closeSessionlessCall } from './call-recovery.js';
import type { EngineConfig } from './config.js';
import type { Logger } from './log.js';
import type { Store } from './store/index.js';
import type { ResolvedCall, ResolveRequest, ResolveResult } from './telephony/gateway.js';

/**
 * The engine's answer to the gateway's resolve (src/engine.ts): a media stream -> the tenant's assistant (key in the
 * path or the start message, number routing, IP allowlist: src/api/media-access.ts) -> its call record, either the
 * outbound record we dialed or a new one admitted under the tenant's call limits, owned by this engine. The precall
 * decision is recorded either way. A stream that never gets a session (echo mode, closed before going live) closes
 * its record through release().
 */
export interface CallBinding {
  recordId: string;
  tenantId: string;
  metadata: Record<string, unknown>;
  /** The other party's number: the callee of a call we dialed, else the caller. */
  party?: string;
  /** A call we dialed (voicemail detection applies). */
  outbound: boolean;
  /** A session took the call (it closes the record); else the stream's release does (src/call-recovery.ts). */
  session?: boolean;
}

export interface ResolverDeps {
  store: Store;
  config: EngineConfig;
  /** This engine process (src/cluster/presence.ts): the owner of the calls it admits. */
  engineId: string;
  recovery: CallRecoveryDeps;
  logger: Logger;
  /** Where the engine's onCall finds what resolve decided for a call. */
  bindings: WeakMap<ResolvedCall, CallBinding>;
  /** A record write the engine's close() must wait for. */
  track(p: Promise<unknown>): void;
}

export function createResolver(d: ResolverDeps): (req: ResolveRequest) => Promise<ResolveResult> {
  const { store, config, recovery, logger, bindings } = d;
  return async function resolve(req: ResolveRequest): Promise<ResolveResult> {
    const access = await authorizeStream(store, config, req);
    const decide = (tenantId: string, assistantId: string, check: PrecallDecision['check'], reason: string | null) =>
      store.analytics.record(tenantId, 'precall', {
        direction: 'inbound',
        assistant_id: assistantId,
        number: req.from ?? null,
        check,
        decision: reason ? 'refused' : 'allowed',
        reason,
      } satisfies PrecallDecision);
    if (!access.ok) {
      if (access.refused)
        await decide(access.refused.tenantId, access.refused.assistantId, 'ip_allowlist', access.reason);
      return { ok: false, code: access.code, reason: access.reason };
    }
    const { assistant } = access;
    const tenantId = assistant.tenantId;
    // An outbound call we dialed carries its record id as a custom parameter (src/channels/twiml.ts).
    const knownId = req.customParameters.callId;
    let record = knownId ? await store.calls.get(tenantId, knownId) : undefined;
    if (record && record.status !== 'completed' && record.status !== 'failed') {
      await store.calls.update(record.id, {
        status: 'in-progress',
        startedAt: new Date().toISOString(),
        ownerId: d.engineId,
      });
    } else {
      const admitted = await admitCall(store, tenantId, {
        create: {
          tenantId,
          assistantId: assistant.id,
          direction: 'inbound',
          status: 'in-progress',
          from: req.from,
          to: req.to,
          protocol: req.protocol,
          metadata: { ...req.customParameters },
          ownerId: d.engineId,
        },
      });
      await decide(tenantId, assistant.id, 'call_limit', admitted.ok ? null : admitted.reason);
      if (!admitted.ok) return { ok: false, code: 4030, reason: admitted.reason };
      record = admitted.record;
      await store.calls.update(record.id, { startedAt: new Date().toISOString() });
    }
    const party = record.direction === 'outbound' ? record.to : record.from;
    const binding: CallBinding = {
      recordId: record.id,
      tenantId,
      metadata: record.metadata,
      outbound: record.direction === 'outbound',
      ...(party ? { party } : {}),
    };
    const startedAt = new Date().toISOString();
    let released = false;
    const call: ResolvedCall = {
      tenantId,
      assistant,
      // Echo mode, or a stream closed before it went live: no session closes the record, so this does.
      release: () => {
        if (released || binding.session) return;
        released = true;
        const c = { id: binding.recordId, tenantId, assistantId: assistant.id, protocol: req.protocol, startedAt };
        const done = closeSessionlessCall(recovery, { ...c, echo: assistant.config.mode === 'echo' }).catch(
          (err: unknown) => logger.warn({ err, callId: c.id }, 'call record close failed'),
        );
        d.track(done);
      },
    };
    bindings.set(call, binding);
    return { ok: true, call };
  };
}
