import type { MediaLeg } from './leg.js';

/**
 * Echo mode (assistant `config.mode === 'echo'`): plays the caller's audio back through the leg's normal outbound
 * path (conversion, 20 ms framing, shared-clock pacing), to exercise the gateway without providers; DTMF digits are
 * answered with a mark named `dtmf-<digit>` after the audio so far. `tap` sees each inbound wire frame (the load
 * bench measures inbound lag with it).
 */
export type EchoTap = (leg: MediaLeg, wire: Uint8Array) => void;

export function startEcho(leg: MediaLeg, tap?: EchoTap): void {
  const chunk = { format: leg.info.inboundFormat, data: new Uint8Array(0) };
  leg.setHandler({
    onAudio(_pcm, wire) {
      tap?.(leg, wire);
      // play() copies into the leg's ring (or converts), so handing it the reused view is safe.
      (chunk as { data: Uint8Array }).data = wire;
      leg.play(chunk);
    },
    onDtmf(digit) {
      leg.mark(`dtmf-${digit}`);
    },
    onMark() {},
    onStop() {},
  });
}
