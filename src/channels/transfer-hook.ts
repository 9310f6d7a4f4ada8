import { createHmac } from 'node:crypto';
import { secretEquals } from '../secret-equal.js';

/**
 * Signed transfer documents for platforms whose REST transfer fetches instructions from a URL instead of taking
 * them inline: Plivo `aleg_url` (XML with <Dial>), jambonz `call_hook` (a verb list with `dial`), and the
 * warm-transfer whispers played to the human before the caller is connected (Twilio <Number url>: TwiML <Say>;
 * Vonage connect `onAnswer`: an NCCO `talk`). The engine serves them at `/webhook/transfer/{platform}`
 * (src/api/routes/carrier.ts). The URL names the tenant, the value (the target to dial; for the whispers the text
 * to say) and an expiry, and carries an HMAC-SHA256 over them keyed with the tenant's own plugin secret (Plivo /
 * Twilio auth token, jambonz API key, Vonage private key), so the route
 * cannot be used as an open dialer: only someone holding that secret can mint a URL, and one URL dials one target
 * (or says one text) for TTL_S seconds.
 */
export type HookPlatform = 'plivo' | 'jambonz' | 'twilio' | 'vonage';

/** The plugin config field that keys each platform's signature. */
export const HOOK_SECRET_FIELD: Readonly<Record<HookPlatform, string>> = Object.freeze({
  plivo: 'authToken',
  jambonz: 'apiKey',
  twilio: 'authToken',
  vonage: 'privateKey',
});

/** Validity of a transfer URL, s: the platform fetches it right after our REST request (Twilio: once the human
 * answers, so it covers the ringing time too). */
const TTL_S = 600;

function mac(secret: string, platform: HookPlatform, tenantId: string, to: string, exp: number): string {
  return createHmac('sha256', secret).update(`${platform}\n${tenantId}\n${to}\n${exp}`).digest('hex');
}

export function transferHookUrl(
  publicUrl: string,
  platform: HookPlatform,
  tenantId: string,
  to: string,
  secret: string,
  nowMs = Date.now(),
): string {
  const exp = Math.floor(nowMs / 1000) + TTL_S;
  const q = new URLSearchParams({ t: tenantId, to, exp: String(exp), sig: mac(secret, platform, tenantId, to, exp) });
  return `${publicUrl.replace(/\/+$/, '')}/webhook/transfer/${platform}?${q.toString()}`;
}

/** The query's target when its signature holds and it has not expired; else undefined. */
export function verifyTransferHook(
  platform: HookPlatform,
  query: { t?: string; to?: string; exp?: string; sig?: string },
  secret: string,
  nowMs = Date.now(),
): string | undefined {
  const { t, to, exp, sig } = query;
  if (!t || !to || !exp || !sig || !/^[0-9]{1,12}$/.test(exp)) return undefined;
  const e = Number(exp);
  if (e * 1000 < nowMs) return undefined;
  return secretEquals(mac(secret, platform, t, to, e), sig.toLowerCase()) ? to : undefined;
}

/** XML text / attribute escape as numeric references (TwiML and Plivo XML accept both). */
export function xml(s: string): string {
  return s.replace(/[<>&'"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** Plivo XML: <Dial> with <Number> (digits, no '+') or <User> for a SIP URI. */
export function plivoDialXml(target: { kind: 'phone' | 'sip'; value: string }): string {
  const noun =
    target.kind === 'sip'
      ? `<User>${xml(target.value)}</User>`
      : `<Number>${xml(target.value.replace(/^\+/, ''))}</Number>`;
  return `<?xml version="1.0" encoding="UTF-8"?><Response><Dial>${noun}</Dial></Response>`;
}

/** jambonz verbs: one `dial` to a phone number or a SIP URI. */
export function jambonzDialVerbs(target: { kind: 'phone' | 'sip'; value: string }): unknown[] {
  const t = target.kind === 'sip' ? { type: 'sip', sipUri: target.value } : { type: 'phone', number: target.value };
  return [{ verb: 'dial', target: [t] }];
}

/** Twilio whisper: TwiML said to the human who answers a warm transfer, before the caller is connected. */
export function twilioWhisperXml(text: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Response><Say>${xml(text)}</Say></Response>`;
}

/** Vonage whisper: the onAnswer NCCO run for the human who answers a warm transfer. */
export function vonageWhisperNcco(text: string): unknown[] {
  return [{ action: 'talk', text }];
}
