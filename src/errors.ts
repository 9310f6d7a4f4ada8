/**
 * One error table (STYLE.md 3): stable codes with their HTTP status. API errors render as
 * {"status":"error","error":{"code","message"}}. Add codes here, never ad hoc in routes.
 */
export const ERRORS = {
  BAD_REQUEST: { status: 400, message: 'The request is malformed' },
  VALIDATION_FAILED: { status: 400, message: 'The request failed validation' },
  UNAUTHORIZED: { status: 401, message: 'Missing or invalid credentials' },
  FORBIDDEN: { status: 403, message: 'Not allowed' },
  IP_NOT_ALLOWED: { status: 403, message: 'This IP address is not in the account allowlist' },
  NOT_FOUND: { status: 404, message: 'Not found' },
  ASSISTANT_NOT_FOUND: { status: 404, message: 'Assistant not found' },
  CALL_NOT_FOUND: { status: 404, message: 'Call not found' },
  CAMPAIGN_NOT_FOUND: { status: 404, message: 'Campaign not found' },
  COLLECTION_NOT_FOUND: { status: 404, message: 'Collection not found' },
  DOCUMENT_NOT_FOUND: { status: 404, message: 'Document not found' },
  CONFLICT: { status: 409, message: 'Conflict' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'Payload too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Unsupported media type' },
  UNKNOWN_PROVIDER: { status: 422, message: 'Unknown provider' },
  UNKNOWN_MODEL: { status: 422, message: 'Unknown model' },
  UNKNOWN_VOICE: { status: 422, message: 'Unknown voice' },
  UNPROCESSABLE: { status: 422, message: 'The request cannot be processed' },
  MCP_COMMAND_NOT_ALLOWED: {
    status: 422,
    message: 'MCP servers that run a program are operator configuration only (MCP_SERVERS_FILE)',
  },
  UNKNOWN_MCP_SERVER: { status: 422, message: 'Unknown MCP server' },
  INVALID_PHONE_NUMBER: { status: 422, message: 'Not an E.164 phone number' },
  UNKNOWN_COLLECTION: { status: 422, message: 'Unknown knowledge-base collection' },
  CHANNEL_NOT_CONFIGURED: { status: 422, message: 'The channel plugin for this request is not configured' },
  PUBLIC_URL_NOT_SET: { status: 503, message: 'PUBLIC_URL is not set: carriers cannot reach this engine' },
  CALL_LIMIT_REACHED: { status: 429, message: 'Call limit reached' },
  RATE_LIMITED: { status: 429, message: 'Too many requests' },
  INSUFFICIENT_CREDIT: { status: 402, message: 'Insufficient credit' },
  INTERNAL: { status: 500, message: 'Internal error' },
  PROVIDER_ERROR: { status: 502, message: 'Upstream provider error' },
  UNAVAILABLE: { status: 503, message: 'Service unavailable' },
  CONSOLE_NOT_BUILT: { status: 503, message: 'The console assets are missing: run `npm run build`' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class EngineError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: unknown;
  constructor(code: ErrorCode, message?: string, details?: unknown) {
    super(message ?? ERRORS[code].message);
    this.name = 'EngineError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = details;
  }
}

export function errorBody(code: ErrorCode, message?: string, details?: unknown) {
  return {
    status: 'error' as const,
    error: { code, message: message ?? ERRORS[code].message, ...(details === undefined ? {} : { details }) },
  };
}
