/**
 * What voicemail greetings and call-screening assistants say and people answering a call do not. Matched on the
 * recognizer's words (lower case, punctuation dropped, whole words), partial or final.
 */
const PHRASES = [
  'leave a message',
  'leave your message',
  'leave me a message',
  'leave a voicemail',
  'leave your name',
  'after the tone',
  'after the beep',
  'at the tone',
  'at the beep',
  'not available',
  'unavailable',
  'cannot take your call',
  "can't take your call",
  'can not take your call',
  'cannot come to the phone',
  "can't come to the phone",
  'voicemail',
  'voice mail',
  'mailbox',
  'record your message',
  'please record',
  'is not in service',
  'the person you are calling',
  'the number you have dialed',
  'google assistant',
  'screening service',
  'state your name',
];

function normalize(text: string): string {
  return ` ${text
    .toLowerCase()
    .replace(/[^a-z' ]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()} `;
}

const NORMALIZED = PHRASES.map((p) => normalize(p));

/** The text contains a voicemail / call-screening phrase. */
export function machineWords(text: string): boolean {
  if (!text) return false;
  const t = normalize(text);
  return NORMALIZED.some((p) => t.includes(p));
}
