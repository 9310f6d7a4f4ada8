/**
 * What a loopback recognizer fake "hears" when the caller's audio is a known script (the full-path load bench):
 * the words actually said in the stretch of audio it is asked about, not a fixed list in turn. Each listen socket
 * gets one `Hearing`; it finds where in which script its audio is (the script's mu-law bytes found in the stream:
 * the engine passes the caller's wire bytes through, whatever moment its recognizer stream started), then maps the
 * fake's utterance bounds (stream bytes) onto the script's words. Each word is timed evenly within its part and is
 * heard once: in the first utterance that reaches its middle. Mu-law 8 kHz streams only (the wire codec); on any
 * other, or before the script is found, it hears nothing ('').
 */

export interface HeardScript {
  /** The script's audio, mu-law 8 kHz (it loops). */
  mulaw: Uint8Array;
  /** What is said in it, ms into the script. */
  parts: { text: string; startMs: number; endMs: number }[];
}

export interface Hearing {
  /** Audio received on the socket, in order. */
  audio(data: Uint8Array): void;
  /** The words said up to stream byte `to` not heard yet; `commit`: they are heard now (a final). */
  words(to: number, commit: boolean): string;
}

const BYTES_PER_MS = 8;
/** Bytes of speech the stream must match in a script before it is placed there. */
const NEEDLE = 400;
const SILENT = 0xff;

interface Word {
  text: string;
  midMs: number;
}

export function scriptHearing(scripts: HeardScript[]): () => Hearing {
  const prepared = scripts.map((s) => ({
    audio: Buffer.from(s.mulaw),
    ms: s.mulaw.length / BYTES_PER_MS,
    words: s.parts.flatMap((p) => {
      const w = p.text.split(/\s+/).filter(Boolean);
      const per = (p.endMs - p.startMs) / Math.max(1, w.length);
      return w.map((text, i): Word => ({ text, midMs: p.startMs + (i + 0.5) * per }));
    }),
  }));
  return () => {
    let head: Buffer | undefined = Buffer.alloc(0);
    /** Where the stream is: the script, and the script time of stream byte 0 (unwrapped ms). */
    let place: { script: (typeof prepared)[number]; originMs: number } | undefined;
    /** Unwrapped script time up to which words were heard. */
    let heardUpTo = Number.NEGATIVE_INFINITY;
    const locate = (): void => {
      const h = head!;
      const first = h.findIndex((b) => b !== SILENT);
      if (first < 0 || h.length - first < NEEDLE) return;
      const needle = h.subarray(first, first + NEEDLE);
      for (const script of prepared) {
        const at = script.audio.indexOf(needle);
        if (at < 0) continue;
        place = { script, originMs: (at - first) / BYTES_PER_MS };
        head = undefined;
        return;
      }
      // Not in any script (not mu-law, or not a scripted caller): give up, hear nothing.
      head = undefined;
    };
    return {
      audio(data) {
        if (!head) return;
        head = Buffer.concat([head, data]);
        locate();
      },
      words(to, commit) {
        if (!place) return '';
        const { script, originMs } = place;
        // From the last word heard (or the stream's start): a word timed just before the fake's onset is not lost.
        const a = Math.max(heardUpTo, originMs);
        const b = originMs + to / BYTES_PER_MS;
        const out: string[] = [];
        for (let loop = Math.floor(a / script.ms); loop * script.ms <= b; loop++) {
          for (const w of script.words) {
            const t = loop * script.ms + w.midMs;
            if (t > a && t <= b) out.push(w.text);
          }
        }
        if (commit) heardUpTo = Math.max(heardUpTo, b);
        return out.join(' ');
      },
    };
  };
}
