/**
 * The offline `rules` agent: NOT a language model, and named so. It follows the assistant's `llm.rules`
 * (keywords / regex / DTMF -> reply and/or tool call), answers from the knowledge base when one is bound, and
 * otherwise asks the caller to rephrase. Deterministic, so replays and tests are exact, and it makes the engine
 * usable with no key.
 *
 * Conventions shared with the call session: DTMF input arrives as a user message `DTMF: 1234`; a tool result
 * arrives as a `tool` message and is acknowledged from its `say` / `message` field (else "Done.").
 */
import type { Rule } from '../../assistant.js';
import { abortedError } from '../classify.js';
import type { ChatMessage, LlmEvent, LlmProvider, LlmRequest, Timing } from '../types.js';
import { extractStructured } from './extract.js';

export interface RulesLlmOptions {
  rules?: Rule[];
  fallbackReply?: string;
  /** A knowledge hit must score at least this to be spoken. */
  minKnowledgeScore?: number;
}

export const DEFAULT_FALLBACK_REPLY = "Sorry, I didn't catch that. Could you say it another way?";

const DTMF_RE = /^\s*DTMF:\s*([0-9*#A-Da-d]+)\s*$/;

interface Match {
  rule: Rule;
  groups: string[];
  named: Record<string, string>;
}

function compile(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern, 'i');
  } catch {
    return undefined; // an invalid pattern never matches; the assistant validator reports it
  }
}

function matchRule(rules: readonly Rule[], regexes: readonly (RegExp | undefined)[], text: string): Match | undefined {
  const dtmf = DTMF_RE.exec(text)?.[1]?.toUpperCase();
  const lower = text.toLowerCase();
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    if (dtmf !== undefined) {
      if (rule.dtmf !== undefined && rule.dtmf.toUpperCase() === dtmf)
        return { rule, groups: [dtmf], named: { digits: dtmf } };
      continue;
    }
    if (rule.keywords?.some((k) => k && lower.includes(k.toLowerCase()))) return { rule, groups: [text], named: {} };
    const re = regexes[i];
    const m = re?.exec(text);
    if (m) return { rule, groups: [...m].map((g) => g ?? ''), named: { ...(m.groups ?? {}) } };
  }
  return undefined;
}

/** First one or two sentences, for speaking a knowledge hit. */
export function leadSentences(text: string, max = 2): string {
  const sentences =
    text
      .replace(/\s+/g, ' ')
      .trim()
      .match(/[^.!?]+[.!?]+|[^.!?]+$/g) ?? [];
  return sentences
    .slice(0, max)
    .map((s) => s.trim())
    .join(' ');
}

function acknowledge(toolMessage: Extract<ChatMessage, { role: 'tool' }>): string {
  try {
    const v = JSON.parse(toolMessage.content) as unknown;
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      for (const k of ['say', 'message', 'result']) if (typeof o[k] === 'string' && o[k]) return o[k] as string;
      if (typeof o.error === 'string') return 'Sorry, that did not work.';
    }
    if (typeof v === 'string' && v) return v;
  } catch {
    if (toolMessage.content && toolMessage.content.length < 200) return toolMessage.content;
  }
  return 'Done.';
}

export class RulesLlm implements LlmProvider {
  readonly id = 'rules';
  private readonly rules: Rule[];
  private readonly regexes: (RegExp | undefined)[];
  private readonly fallbackReply: string;
  private readonly minScore: number;
  private calls = 0;

  constructor(opts: RulesLlmOptions = {}) {
    this.rules = opts.rules ?? [];
    this.regexes = this.rules.map((r) => (r.regex ? compile(r.regex) : undefined));
    this.fallbackReply = opts.fallbackReply ?? DEFAULT_FALLBACK_REPLY;
    this.minScore = opts.minKnowledgeScore ?? 0;
  }

  async *stream(request: LlmRequest, signal: AbortSignal, timing: Timing = {}): AsyncIterable<LlmEvent> {
    timing.requestSentAt = performance.now();
    if (signal.aborted) throw abortedError(this.id, 'llm');
    let out = '';
    const speak = function* (text: string): Generator<LlmEvent> {
      // word by word, so the downstream sentence splitter sees a real stream
      for (const piece of text.match(/\S+\s*/g) ?? []) {
        if (signal.aborted) throw abortedError('rules', 'llm');
        timing.firstByteAt ??= performance.now();
        out += piece;
        yield { type: 'text', delta: piece };
      }
    };

    if (request.jsonSchema) {
      const json = JSON.stringify(extractStructured(request.messages, request.jsonSchema));
      timing.firstByteAt = performance.now();
      out = json;
      yield { type: 'text', delta: json };
    } else {
      const last = [...request.messages].reverse().find((m) => m.role !== 'system');
      if (last?.role === 'tool') {
        yield* speak(acknowledge(last));
      } else {
        const text = last?.role === 'user' ? last.content : '';
        const match = text ? matchRule(this.rules, this.regexes, text) : undefined;
        if (match) {
          if (match.rule.reply)
            yield* speak(match.rule.reply.replace(/\$(\d)/g, (_, d: string) => match.groups[Number(d)] ?? ''));
          if (match.rule.tool) {
            timing.firstByteAt ??= performance.now();
            const args = { ...(match.rule.toolArgs ?? {}), ...match.named };
            yield {
              type: 'tool_call',
              call: { id: `call_rules_${++this.calls}`, name: match.rule.tool, arguments: JSON.stringify(args) },
            };
          }
        } else {
          let answer: string | undefined;
          if (text && request.knowledge && !DTMF_RE.test(text)) {
            const hits = await request.knowledge(text);
            if (signal.aborted) throw abortedError(this.id, 'llm');
            const top = hits[0];
            if (top && top.score >= this.minScore && top.text.trim()) answer = leadSentences(top.text);
          }
          yield* speak(answer ?? this.fallbackReply);
        }
      }
    }
    const words = (s: string) => s.split(/\s+/).filter(Boolean).length;
    yield {
      type: 'usage',
      promptTokens: request.messages.reduce((n, m) => n + words(m.content), 0),
      completionTokens: words(out),
    };
    timing.doneAt = performance.now();
    yield { type: 'done', finishReason: 'stop' };
  }
}
