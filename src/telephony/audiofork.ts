import { forkAdapter } from './fs-metadata.js';

/**
 * FreeSWITCH mod_audio_fork (drachtio), PROTOCOLS.md "audiofork". Subprotocol `audio.drachtio.org` must be echoed.
 * In: optional metadata text (compact JSON, e.g. {"to","from","callid"}), then binary L16 LE of varying size
 * (re-chunked by the leg); a zero-length binary frame means "end of audio" (graceful-shutdown), not audio.
 * Out: JSON only (binary is discarded by the module). `playAudio` writes a file the controller plays:
 * LIMITATION as for freeswitch: 1 s messages paced one message ahead, no marks (resolved from our clock),
 * `killAudio` as the clear, `disconnect` / `transfer` for the controller to act on. DTMF in-band unless the
 * controller forwards `{"event":"dtmf","digit":"5"}`. The caller's words go to the controller as `transcription`.
 */
export const createAudioforkAdapter = forkAdapter({
  name: 'audiofork',
  subprotocols: ['audio.drachtio.org'],
  playPrefix: (rate) => `{"type":"playAudio","data":{"audioContentType":"raw","sampleRate":${rate},"audioContent":"`,
  clear: '{"type":"killAudio"}',
  hangup: () => '{"type":"disconnect"}',
  transfer: (target) => JSON.stringify({ type: 'transfer', data: { to: target } }),
  event: (event) =>
    event.type === 'transcript' && event.role === 'user'
      ? JSON.stringify({ type: 'transcription', data: { text: event.text, final: event.final } })
      : undefined,
});
