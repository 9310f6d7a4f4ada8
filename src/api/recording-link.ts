import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyReply } from 'fastify';
import { callFileKeys } from '../call-files.js';
import type { EngineConfig } from '../config.js';
import { EngineError } from '../errors.js';
import type { FileStorage } from '../storage/index.js';
import type { CallRecord } from '../store/index.js';

/**
 * Signed, expiring recording links (the `recording_url` of `call.ended`): `GET /recordings/{callId}.wav?expires=
 * <unix s>&sig=<hex HMAC-SHA256(secret, "<callId>.<expires>")>` serves that call's recording without portal
 * credentials until `expires`. The secret is RECORDING_LINK_SECRET, else one generated once into DATA_DIR (so every
 * worker process of one engine shares it; several hosts must set the variable).
 */
export interface RecordingLinks {
  url(callId: string, nowMs?: number): { url: string; expiresAt: string } | undefined;
  verify(callId: string, expires: string, sig: string, nowMs?: number): boolean;
}

/** Default lifetime of a recording link, s (7 days: long enough for a CRM to fetch it after a weekend). */
export const RECORDING_LINK_TTL_SEC = 7 * 86_400;

function loadSecret(config: EngineConfig): string {
  if (config.recordingLinkSecret) return config.recordingLinkSecret;
  const file = path.join(config.dataDir, 'recording-link.secret');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    mkdirSync(config.dataDir, { recursive: true });
    try {
      // 'wx': when two workers start at once, one writes and the other reads what it wrote.
      writeFileSync(file, randomBytes(32).toString('hex'), { flag: 'wx', mode: 0o600 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    return readFileSync(file, 'utf8').trim();
  }
}

export function createRecordingLinks(config: EngineConfig, ttlSec = RECORDING_LINK_TTL_SEC): RecordingLinks {
  const secret = loadSecret(config);
  const mac = (callId: string, expires: string) =>
    createHmac('sha256', secret).update(`${callId}.${expires}`).digest('hex');
  return {
    url(callId, nowMs = Date.now()) {
      if (!config.publicUrl) return undefined;
      const expires = String(Math.floor(nowMs / 1000) + ttlSec);
      const base = config.publicUrl.replace(/\/$/, '');
      return {
        url: `${base}/recordings/${encodeURIComponent(callId)}.wav?expires=${expires}&sig=${mac(callId, expires)}`,
        expiresAt: new Date(Number(expires) * 1000).toISOString(),
      };
    },
    verify(callId, expires, sig, nowMs = Date.now()) {
      if (!/^\d{1,12}$/.test(expires) || Number(expires) * 1000 <= nowMs || !/^[0-9a-f]{64}$/.test(sig)) return false;
      return timingSafeEqual(Buffer.from(mac(callId, expires), 'hex'), Buffer.from(sig, 'hex'));
    },
  };
}

/**
 * Streams a call's recording from the file storage (src/storage: DATA_DIR or the bucket every engine shares). The
 * key is derived from the call's own tenant and id (src/call-files.ts), never from a request or a path in its row.
 */
export async function sendRecording(reply: FastifyReply, files: FileStorage, call: CallRecord): Promise<FastifyReply> {
  if (!call.recordingPath) throw new EngineError('NOT_FOUND', 'This call has no recording');
  const obj = await files.get(callFileKeys(call.tenantId, call.id).recording);
  if (!obj) throw new EngineError('NOT_FOUND', 'Recording file is missing');
  reply.header('content-type', 'audio/wav');
  reply.header('content-length', String(obj.size));
  reply.header('content-disposition', `attachment; filename="${call.id}.wav"`);
  return reply.send(obj.body);
}

/** The `recording_url` / `recording_expires_at` fields of a webhook, or none. */
export function recordingLinkFields(link: { url: string; expiresAt: string } | undefined): Record<string, string> {
  return link ? { recording_url: link.url, recording_expires_at: link.expiresAt } : {};
}
