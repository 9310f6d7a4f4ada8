import type { Assistant } from '../assistant.js';

/** One outbound call to place. `callId` is already persisted (status queued). */
export interface DialRequest {
  callId: string;
  tenantId: string;
  assistant: Assistant;
  to: string;
  from?: string;
  /** 'twilio' | 'asterisk' | 'freeswitch' … (the tenant's channel plugin). */
  channel: string;
  metadata: Record<string, unknown>;
}

export interface DialResult {
  /** The carrier's id for the call (Twilio CallSid, ARI channel id, FreeSWITCH uuid). */
  providerCallId: string;
  status?: 'queued' | 'ringing';
}

/**
 * Places outbound calls. A dialer throws DialError with `retryable` when trying again later may work (carrier 5xx,
 * network), and a plain error otherwise.
 */
export interface OutboundDialer {
  dial(req: DialRequest): Promise<DialResult>;
  /**
   * Why a call on this channel cannot be placed now (no PUBLIC_URL, plugin missing or incomplete), or null. Asked
   * when the request arrives, so the caller gets a clear refusal instead of `queued` followed by a failure.
   */
  unavailable?(tenantId: string, channel: string, from?: string): Promise<DialBlocker | null>;
  /** The tenant's channel when a request names none (a SIP trunk is configured): undefined for the default. */
  defaultChannel?(tenantId: string): Promise<string | undefined>;
}

/** A reason an outbound call cannot be placed; `code` is an API error code (src/errors.ts). */
export interface DialBlocker {
  code: 'PUBLIC_URL_NOT_SET' | 'CHANNEL_NOT_CONFIGURED';
  message: string;
}

export class DialError extends Error {
  readonly retryable: boolean;
  readonly statusCode?: number;
  constructor(message: string, retryable: boolean, statusCode?: number) {
    super(message);
    this.name = 'DialError';
    this.retryable = retryable;
    this.statusCode = statusCode;
  }
}
