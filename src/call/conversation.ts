import type { ChatMessage, ToolCall } from '../providers/types.js';
import type { TranscriptEntry } from './deps.js';

/**
 * The conversation of one call, and its only owner: the LLM history (system prompt excluded), the transcript (what
 * was said, as the caller heard it) and the turn counter. Everything else asks it to change them:
 *
 *   caller turn ──userTurn()──▶ history + transcript        agent speech ──reply()──▶ AgentReply handle
 *   barge-in ──truncate(reply, heard)──▶ both cut to what the caller heard
 *   turn taken back (caller only paused) ──takeBackUserTurn()──▶ text returned to the turn detector
 *
 * An AgentReply stands for one agent utterance: what it adds goes to the history, the transcript, or both, and a
 * truncation edits exactly those entries (never an earlier turn's). Transcript changes are reported through
 * `onTranscript` (the call record and the leg's transcript events).
 */
export interface ConversationEvents {
  /** A new entry; `extra` marks a change to an existing one (truncated, superseded) or a backchannel. */
  onTranscript(entry: TranscriptEntry, extra?: Record<string, unknown>): void;
}

export class AgentReply {
  /** The assistant message in the history being streamed into (undefined until the first text). */
  message: (ChatMessage & { role: 'assistant' }) | undefined;
  /** Whether this reply's text is in the history at all (asides and goodbyes are transcript only). */
  inHistory: boolean;
  /** The transcript entry of this reply's text (the last one added). */
  entry: TranscriptEntry | undefined;

  constructor(inHistory: boolean) {
    this.inHistory = inHistory;
  }
}

export class Conversation {
  private readonly messages: ChatMessage[] = [];
  private readonly entries: TranscriptEntry[] = [];
  private turnNo = 0;
  private readonly elapsedMs: () => number;
  private readonly events: ConversationEvents;

  constructor(elapsedMs: () => number, events: ConversationEvents) {
    this.elapsedMs = elapsedMs;
    this.events = events;
  }

  get turn(): number {
    return this.turnNo;
  }

  get history(): readonly ChatMessage[] {
    return this.messages;
  }

  get transcript(): readonly TranscriptEntry[] {
    return this.entries;
  }

  /** The text of the caller's last turn in the history. */
  lastUserText(): string {
    for (let i = this.messages.length - 1; i >= 0; i--) {
      const m = this.messages[i]!;
      if (m.role === 'user') return m.content;
    }
    return '';
  }

  /** The caller's last `n` turns, oldest first (a warm transfer's summary). */
  recentUserTexts(n: number): string[] {
    return this.entries
      .filter((e) => e.role === 'user')
      .map((e) => e.text)
      .slice(-n);
  }

  /** A caller turn (speech or DTMF): a new turn number, in the history and the transcript. */
  userTurn(text: string): void {
    this.turnNo++;
    this.addEntry('user', text);
    this.messages.push({ role: 'user', content: text });
  }

  /** Said over the agent without taking the turn: recorded, not in the history. */
  backchannel(text: string): void {
    this.events.onTranscript(
      { role: 'user', text, turn: this.turnNo, atMs: Math.round(this.elapsedMs()) },
      { backchannel: true },
    );
  }

  /**
   * The last caller turn is taken back (the agent had not said anything yet and the caller went on): removed from
   * the history and the transcript, and so is the reply `r` to it (nothing of it was heard); its text is returned so
   * the next turn can include it.
   */
  takeBackUserTurn(r?: AgentReply): string | undefined {
    // The reply to it, unheard, goes too (its text may have streamed into the history already).
    const streamed = r?.message !== undefined && this.messages.at(-1) === r.message;
    const last = this.messages.at(streamed ? -2 : -1);
    if (last?.role !== 'user') return undefined;
    if (r && streamed) r.message = undefined;
    this.messages.splice(this.messages.lastIndexOf(last));
    for (const e of [r?.entry, this.entries.findLast((x) => x.role === 'user' && x.text === last.content)]) {
      const i = e ? this.entries.lastIndexOf(e) : -1;
      if (i < 0) continue;
      this.entries.splice(i, 1);
      this.events.onTranscript(e!, { superseded: true });
    }
    if (r) r.entry = undefined;
    // The turn was never answered: the merged one takes its number.
    this.turnNo--;
    return last.content;
  }

  /** A new agent utterance; `inHistory` false for asides (reprompts, apologies for the line, goodbyes). */
  reply(inHistory: boolean): AgentReply {
    return new AgentReply(inHistory);
  }

  /** Text known in full (greeting, menu reply, apology): the transcript, and the history when the reply is in it. */
  say(r: AgentReply, text: string): void {
    if (r.inHistory) {
      r.message = { role: 'assistant', content: text };
      this.messages.push(r.message);
    }
    r.entry = this.addEntry('assistant', text);
  }

  /** Streamed LLM text: the assistant message is in the history from the first delta on. */
  stream(r: AgentReply, text: string): void {
    if (!r.message) {
      r.message = { role: 'assistant', content: '' };
      this.messages.push(r.message);
    }
    r.message.content = text;
  }

  /** The streamed text of one LLM round is complete: it goes into the transcript. */
  streamed(r: AgentReply, text: string): void {
    if (text) r.entry = this.addEntry('assistant', text);
  }

  /** Something heard that the LLM must not see (a tool's filler between the call and its result). */
  heardOnly(r: AgentReply, text: string): void {
    r.entry = this.addEntry('assistant', text);
  }

  /** The LLM asked for tools: the round's message carries the calls; the next round's text is a new message. */
  toolCalls(r: AgentReply, calls: ToolCall[]): void {
    if (!r.message) {
      r.message = { role: 'assistant', content: '' };
      this.messages.push(r.message);
    }
    r.message.toolCalls = calls;
    r.message = undefined;
  }

  toolResult(call: ToolCall, content: string): void {
    this.messages.push({ role: 'tool', toolCallId: call.id, name: call.name, content });
  }

  /**
   * The caller heard only `heard` of this reply (barge-in, hangup): its message in the history and its transcript
   * entry are cut to it. A reply cut before its text reached the history adds what was heard. `how`: whether TTS
   * word timings or the played-sample estimate found `heard` (on the record's truncated transcript event).
   */
  truncate(r: AgentReply, heard: string, how?: 'word_timestamps' | 'estimate'): void {
    if (r.message) r.message.content = heard;
    else if (r.inHistory && heard) {
      r.message = { role: 'assistant', content: heard };
      this.messages.push(r.message);
    }
    const entry = r.entry;
    if (entry) {
      entry.text = heard;
      entry.interrupted = true;
      if (how) entry.truncation = how;
      this.events.onTranscript(entry, { truncated: true });
    } else if (heard) {
      r.entry = this.addEntry('assistant', heard, true, how);
    }
  }

  private addEntry(
    role: 'user' | 'assistant',
    text: string,
    interrupted?: boolean,
    how?: 'word_timestamps' | 'estimate',
  ): TranscriptEntry {
    const e: TranscriptEntry = {
      role,
      text,
      turn: this.turnNo,
      atMs: Math.round(this.elapsedMs()),
      ...(interrupted ? { interrupted } : {}),
      ...(how ? { truncation: how } : {}),
    };
    this.entries.push(e);
    this.events.onTranscript(e);
    return e;
  }
}
