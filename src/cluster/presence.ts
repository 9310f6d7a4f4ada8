import { hostname } from 'node:os';
import type { Logger } from '../log.js';
import { newId } from '../store/ids.js';
import type { CallRecord, ControlMessage, Store } from '../store/index.js';

/**
 * This engine process among the others sharing the store (DESIGN.md 9):
 *
 *   register(eng_…) ──▶ every heartbeatMs: heartbeat + reapDead(deadAfterMs)
 *        │                   └── calls whose owner stopped heartbeating ──▶ onReaped (failed + call.failed webhook)
 *        └── subscribe(control channel) ──▶ onControl (hangup / transfer / config for a call this engine carries)
 *
 * Each engine reaps, so the calls of a dead engine are closed within deadAfterMs + heartbeatMs by whichever engine
 * looks first (the store hands each orphan to exactly one), with end reason `engine_lost`.
 *
 * An exclusive store (the embedded SQLite file: one engine process at a time) has no other live engine by
 * construction, so at start every call a previous process left in progress is closed at once, with end reason
 * `engine_restart`, before this engine takes a call (no waiting for the old heartbeat to go stale).
 */
export interface Presence {
  readonly id: string;
  stop(): Promise<void>;
}

export interface PresenceOptions {
  store: Store;
  logger: Logger;
  onControl(msg: ControlMessage): void;
  onReaped(call: CallRecord): Promise<void>;
  heartbeatMs?: number;
  deadAfterMs?: number;
  /** No other engine can be alive on this store (SQLite): close the previous process's calls at start. */
  exclusive?: boolean;
}

export const ENGINE_LOST = 'engine_lost';
export const ENGINE_RESTART = 'engine_restart';

export async function startPresence(opts: PresenceOptions): Promise<Presence> {
  const { store, logger } = opts;
  const heartbeatMs = opts.heartbeatMs ?? 5000;
  const deadAfterMs = opts.deadAfterMs ?? Math.max(15_000, heartbeatMs * 3);
  const id = newId('eng', 9);
  const startedAt = Date.now();
  await store.engines.register(id, { host: hostname(), pid: process.pid }, startedAt);
  const unsubscribe = await store.control.subscribe(id, opts.onControl);
  const closeAll = async (calls: CallRecord[]) => {
    for (const call of calls) {
      logger.warn(
        { callId: call.id, ownerId: call.ownerId, reason: call.endReason },
        'closed a call of an engine that stopped',
      );
      await opts
        .onReaped(call)
        .catch((err: unknown) => logger.warn({ err, callId: call.id }, 'reaped call webhook failed'));
    }
  };
  // Our own heartbeat is exactly startedAt, so a zero timeout at startedAt spares us and nobody else.
  if (opts.exclusive) await closeAll(await store.engines.reapDead(startedAt, 0, ENGINE_RESTART));
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      await store.engines.heartbeat(id);
      await closeAll(await store.engines.reapDead(Date.now(), deadAfterMs, ENGINE_LOST));
    } catch (err) {
      // Store unreachable (Postgres restarting): try again at the next tick.
      logger.warn({ err: (err as Error).message }, 'engine heartbeat failed');
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), heartbeatMs);
  timer.unref();
  void tick();
  let stopped: Promise<void> | undefined;
  return {
    id,
    stop() {
      stopped ??= (async () => {
        clearInterval(timer);
        await unsubscribe().catch(() => {});
        await store.engines.unregister(id).catch(() => {});
      })();
      return stopped;
    },
  };
}
