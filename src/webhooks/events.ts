import { type TSchema, Type } from 'typebox';
import type { WebhookEventType } from '../store/index.js';

/**
 * The webhook wire format (docs/webhooks.md). Version 1: every key snake_case, the envelope
 * `{id, type, version, created_at, data}`. A change that renames or removes a field bumps the version.
 */
export const WEBHOOK_SCHEMA_VERSION = 1;

/** Keys whose values are the customer's own (call metadata, the structured output): passed through untouched. */
const VERBATIM = new Set(['metadata', 'structured_output']);

const snakeKey = (k: string): string => k.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

/** Deep copy with snake_case keys, except under customer-owned keys; undefined values are dropped. */
export function snakeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    const key = snakeKey(k);
    out[key] = VERBATIM.has(key) ? v : snakeKeys(v);
  }
  return out;
}

/** The body an endpoint receives for a stored event `{id, type, createdAt, data}`. */
export function wireEnvelope(stored: Record<string, unknown>): Record<string, unknown> {
  return {
    id: stored.id,
    type: stored.type,
    version: WEBHOOK_SCHEMA_VERSION,
    created_at: stored.createdAt ?? stored.created_at,
    data: snakeKeys(stored.data ?? {}),
  };
}

const Str = Type.String();
const OptStr = Type.Optional(Type.String());
const Meta = Type.Optional(Type.Record(Type.String(), Type.Unknown()));
/** Test mode: present (true) on every event of a test environment. */
const TestFlag = Type.Optional(Type.Boolean({ description: 'Test mode: the event of a test-key environment' }));

/** campaign.completed / paused / resumed / cancelled: the campaign and its rows per status. */
const CampaignStatusEvent = Type.Object({
  campaign_id: Str,
  name: Str,
  counts: Type.Record(Type.String(), Type.Integer()),
  test: TestFlag,
});

/** Per event: the fields of `data` (more may be added within a version; none removed or renamed). */
export const WEBHOOK_EVENT_SCHEMAS: Record<WebhookEventType, TSchema> = {
  'call.started': Type.Object({
    call_id: Str,
    assistant_id: Str,
    protocol: Str,
    from: OptStr,
    to: OptStr,
    test: TestFlag,
  }),
  'call.ended': Type.Object({
    call_id: Str,
    provider_call_id: Type.Optional(Type.String({ description: "The carrier's call id (Twilio CallSid, …)" })),
    assistant_id: Str,
    protocol: Str,
    started_at: Str,
    ended_at: Str,
    duration_ms: Type.Number(),
    end_reason: Str,
    ended_by: Str,
    turns: Type.Integer(),
    barge_ins: Type.Integer(),
    transcript: Type.Array(
      Type.Object({
        role: Type.Union([Type.Literal('user'), Type.Literal('assistant')]),
        text: Str,
        turn: Type.Integer(),
        at_ms: Type.Number(),
        interrupted: Type.Optional(Type.Boolean()),
        truncation: Type.Optional(Type.Union([Type.Literal('word_timestamps'), Type.Literal('estimate')])),
      }),
    ),
    digits: Type.Array(Str),
    tool_calls: Type.Array(Type.Object({ name: Str, ok: Type.Boolean() })),
    summary: OptStr,
    structured_output: Type.Optional(Type.Unknown()),
    structured_output_error: OptStr,
    transferred_to: OptStr,
    recording_url: Type.Optional(
      Type.String({ description: 'Absolute, signed, expiring link (GET, no credentials); absent without PUBLIC_URL' }),
    ),
    recording_expires_at: OptStr,
    test: TestFlag,
    answered_by: Type.Optional(Type.Union([Type.Literal('human'), Type.Literal('machine'), Type.Literal('unknown')])),
    amd_ms: Type.Optional(Type.Number()),
  }),
  'call.failed': Type.Object({
    call_id: Str,
    provider_call_id: OptStr,
    assistant_id: OptStr,
    direction: Type.Optional(Type.Union([Type.Literal('inbound'), Type.Literal('outbound')])),
    to: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    metadata: Meta,
    reason: Str,
    test: TestFlag,
  }),
  'campaign.row': Type.Object({
    campaign_id: Str,
    row_id: Str,
    seq: Type.Integer(),
    phone: Str,
    status: Type.Union([
      Type.Literal('completed'),
      Type.Literal('failed'),
      Type.Literal('dnc'),
      Type.Literal('opted_out'),
    ]),
    attempts: Type.Integer(),
    metadata: Meta,
    call_id: OptStr,
    result: OptStr,
    answered_by: OptStr,
    test: TestFlag,
  }),
  'campaign.completed': CampaignStatusEvent,
  'campaign.paused': CampaignStatusEvent,
  'campaign.resumed': CampaignStatusEvent,
  'campaign.cancelled': CampaignStatusEvent,
  'whatsapp.message': Type.Object({
    direction: Type.Union([Type.Literal('inbound'), Type.Literal('outbound')]),
    channel: Type.Literal('whatsapp'),
    to: Str,
    from: OptStr,
    message_id: Type.Union([Type.String(), Type.Null()]),
    status: Str,
    message_type: OptStr,
    text: OptStr,
    assistant_id: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    provider: OptStr,
    source: OptStr,
    error: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    test: TestFlag,
  }),
};
