/** XML attribute escaping for values we put in TwiML. */
export function xmlAttr(v: string): string {
  return v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** `https://host` or `wss://host` -> `wss://host` (Twilio Media Streams need a secure WebSocket URL). */
export function wsBase(publicUrl: string): string {
  const u = new URL(publicUrl);
  u.protocol = u.protocol === 'http:' || u.protocol === 'ws:' ? 'ws:' : 'wss:';
  return u.toString().replace(/\/$/, '');
}

/**
 * TwiML that bridges the answered call to our media endpoint (Twilio <Connect><Stream>): the assistant key in the
 * path, our call id as a custom parameter so the session attaches to the queued call record.
 */
export function connectStreamTwiml(publicUrl: string, assistantApiKey: string, callId: string): string {
  const url = `${wsBase(publicUrl)}/media/twilio/${encodeURIComponent(assistantApiKey)}`;
  return (
    `<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="${xmlAttr(url)}">` +
    `<Parameter name="callId" value="${xmlAttr(callId)}"/></Stream></Connect></Response>`
  );
}
