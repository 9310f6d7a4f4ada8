/**
 * The `tool-responses` analytics row (GET /api/v1/account/analytics/tool-responses) of a call's `tool` event, or
 * undefined for tool events that are not a finished call (the filler notice). Flat scalars for BI tools.
 */
export function toolResponseRow(
  callId: string,
  assistantId: string,
  data: Record<string, unknown>,
): Record<string, unknown> | undefined {
  if (typeof data.ok !== 'boolean') return undefined;
  const error = typeof data.error === 'string' ? data.error : data.ok ? null : errorOf(data.result);
  return {
    call_id: callId,
    assistant_id: assistantId,
    tool: data.name,
    status: data.ok ? 'ok' : 'error',
    error,
    latency_ms: typeof data.ms === 'number' ? data.ms : null,
    size_bytes: typeof data.bytes === 'number' ? data.bytes : null,
    turn: data.turn ?? null,
    source: data.source ?? 'llm',
  };
}

/** A tool result's `{"error": …}` message, when it is one. */
function errorOf(result: unknown): string | null {
  if (typeof result !== 'string') return null;
  try {
    const v = JSON.parse(result) as { error?: unknown };
    return typeof v.error === 'string' ? v.error : null;
  } catch {
    return null;
  }
}
