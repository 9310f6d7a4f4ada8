import type { MediaLeg } from './leg.js';

/**
 * Echo mode (assistant `config.mode === 'echo'`): plays the caller's audio back through the leg's normal outbound
 * path (conversion, framing, shared-clock pacing), to exercise the gateway without providers. DTMF digits are
 * answered with a mark named `dtmf-<digit>` after the audio so far. `tap` sees each inbound wire frame (the load
 * bench measures inbound lag with it).
 *
 * The first PREBUFFER_FRAMES frames are held and then played at once, like a platform's jitter buffer: from then
 * on the leg's queue holds audio beyond the pacing lead, so what goes back is timed by the pacer's clock rather
 * than by when inbound frames happened to arrive (which makes the returned inter-arrival a measure of pacing).
 */
export type EchoTap = (leg: MediaLeg, wire: Uint8Array) => void;

const PREBUFFER_FRAMES = 6;

export function startEcho(leg: MediaLeg, tap?: EchoTap): void {
  const format = leg.info.inboundFormat;
  let held: Uint8Array | undefined;
  let heldBytes = 0;
  let heldFrames = 0;
  const chunk: { format: typeof format; data: Uint8Array } = { format, data: new Uint8Array(0) };
  // No wire recording here: drop the messages the leg keeps for a session's tap (each call's first 256, as
  // strings). Kept, they were old-space garbage that never went, and at hundreds of calls the collector's pauses
  // made the pacer lag bursty.
  leg.setWireTap?.(undefined);
  leg.setHandler({
    onAudio(_pcm, wire) {
      tap?.(leg, wire);
      if (heldFrames < PREBUFFER_FRAMES) {
        held ??= new Uint8Array(wire.length * PREBUFFER_FRAMES);
        held.set(wire, heldBytes);
        heldBytes += wire.length;
        if (++heldFrames < PREBUFFER_FRAMES) return;
        chunk.data = held.subarray(0, heldBytes);
        leg.play(chunk);
        return;
      }
      // play() copies into the leg's queue (or converts), so handing it the reused view is safe.
      chunk.data = wire;
      leg.play(chunk);
    },
    onDtmf(digit) {
      leg.mark(`dtmf-${digit}`);
    },
    onMark() {},
    onStop() {},
  });
}
