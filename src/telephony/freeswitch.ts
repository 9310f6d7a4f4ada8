import { forkAdapter } from './fs-metadata.js';

/**
 * FreeSWITCH mod_audio_stream (community build), PROTOCOLS.md "freeswitch". In: optional metadata text, then
 * binary L16 LE at the rate given to `uuid_audio_stream` (say it in the metadata or the URL query). Out: the
 * module plays nothing itself: each `streamAudio` JSON becomes a temp file and a `mod_audio_stream::play` event
 * for the ESL controller to play (uuid_broadcast). LIMITATION: playback needs that controller, and one message is
 * one file, so audio goes out in 1 s messages (not 20 ms frames), paced one message ahead; barge-in is only as fast
 * as the controller's `uuid_break` on our `{"type":"clear"}`. No marks on the wire: the leg resolves them from its
 * clock. DTMF is detected in-band, unless the controller forwards `{"event":"dtmf","digit":"5"}` (send_text).
 * Control messages for the controller (our convention, delivered as `mod_audio_stream::json`; it runs uuid_break,
 * uuid_kill, uuid_transfer): `{"type":"clear"}`, `{"type":"hangup","reason"}`, `{"type":"transfer","target","mode"}`.
 */
export const createFreeswitchAdapter = forkAdapter({
  name: 'freeswitch',
  subprotocols: [],
  playPrefix: (rate) => `{"type":"streamAudio","data":{"audioDataType":"raw","sampleRate":${rate},"audioData":"`,
  clear: '{"type":"clear"}',
  hangup: (reason) => JSON.stringify({ type: 'hangup', reason }),
  transfer: (target, mode, summary) => JSON.stringify({ type: 'transfer', target, mode, summary }),
});
