import { Value } from 'typebox/value';
import type { AssistantConfig } from '../assistant.js';
import type { Logger } from '../log.js';
import type { LlmProvider } from '../providers/types.js';
import type { TranscriptEntry } from './deps.js';
import type { StereoCallRecorder } from './recorder.js';

/**
 * After the call (issue 6, deliverable 8): structured output extracted with the LLM against the assistant's JSON
 * schema and validated (failures are returned as an error string, never thrown), and a short summary. The offline
 * `rules` agent cannot summarize, so with it the summary is extractive.
 */
const POST_CALL_TIMEOUT_MS = 30_000;

export function transcriptText(t: readonly TranscriptEntry[]): string {
  return t.map((e) => `${e.role === 'user' ? 'Caller' : 'Agent'}: ${e.text}`).join('\n');
}

async function complete(
  llm: LlmProvider,
  system: string,
  user: string,
  jsonSchema?: Record<string, unknown>,
): Promise<string> {
  const signal = AbortSignal.timeout(POST_CALL_TIMEOUT_MS);
  let text = '';
  for await (const ev of llm.stream(
    {
      messages: [
        { role: 'system', content: system },
        { role: 'user', content: user },
      ],
      jsonSchema,
      temperature: 0, // dropped by the adapter for models that reject it (gpt-5, o-series: reasoning models)
    },
    signal,
  )) {
    if (ev.type === 'text') text += ev.delta;
  }
  return text;
}

function firstJson(text: string): unknown {
  const t = text.trim().replace(/^```(?:json)?\s*|\s*```$/g, '');
  try {
    return JSON.parse(t);
  } catch {
    const s = t.indexOf('{');
    const e = t.lastIndexOf('}');
    if (s >= 0 && e > s) return JSON.parse(t.slice(s, e + 1));
    throw new Error('the model did not answer with JSON');
  }
}

export async function extractStructured(
  llm: LlmProvider,
  schema: Record<string, unknown>,
  transcript: readonly TranscriptEntry[],
): Promise<{ value?: unknown; error?: string }> {
  try {
    const text = await complete(
      llm,
      `Extract the requested data from this phone call transcript. Answer with one JSON object that matches this JSON schema, nothing else:\n${JSON.stringify(schema)}`,
      transcriptText(transcript),
      schema,
    );
    const value = firstJson(text);
    if (!Value.Check(schema, value)) {
      const errors = [...Value.Errors(schema, value)].slice(0, 3).map((e) => `${e.instancePath || '/'} ${e.message}`);
      return { error: `structured output does not match the schema: ${errors.join('; ')}`, value };
    }
    return { value };
  } catch (err) {
    return { error: `structured output extraction failed: ${(err as Error).message}` };
  }
}

export function extractiveSummary(transcript: readonly TranscriptEntry[], endReason: string): string {
  const user = transcript.filter((e) => e.role === 'user');
  const first = user[0]?.text;
  const parts = [`${transcript.length} messages, ${user.length} from the caller`];
  if (first) parts.push(`the caller first said "${first.length > 120 ? `${first.slice(0, 117)}...` : first}"`);
  parts.push(`ended: ${endReason}`);
  return `${parts.join('; ')}.`;
}

export async function summarize(
  llm: LlmProvider,
  transcript: readonly TranscriptEntry[],
  endReason: string,
): Promise<string> {
  if (llm.id === 'rules' || transcript.length === 0) return extractiveSummary(transcript, endReason);
  try {
    const text = await complete(
      llm,
      'Summarize this phone call in one or two sentences: who called, what they wanted, and the outcome.',
      transcriptText(transcript),
    );
    return text.trim() || extractiveSummary(transcript, endReason);
  } catch {
    return extractiveSummary(transcript, endReason);
  }
}

export interface AfterCallInput {
  llm: LlmProvider | undefined;
  config: AssistantConfig;
  transcript: readonly TranscriptEntry[];
  endReason: string;
  recorder: StereoCallRecorder | undefined;
  /** Where the recording goes (src/call-files.ts). */
  recordingFile: string;
  logger: Logger;
}

export interface AfterCallResult {
  recordingPath?: string;
  summary?: string;
  structured: { value?: unknown; error?: string };
}

/** Recording saved, summary and structured output made, in parallel; nothing here throws. */
export async function afterCall(i: AfterCallInput): Promise<AfterCallResult> {
  const save = i.config.hangup?.saveConversation;
  const schema = i.config.hangup?.schema;
  const wantSummary = i.llm && save?.enabled !== false && save?.summary !== false;
  const [recordingPath, summary, structured] = await Promise.all([
    i.recorder
      ? i.recorder.save(i.recordingFile).catch((err: unknown) => {
          i.logger.warn({ err: (err as Error).message, file: i.recordingFile }, 'recording not saved');
          return undefined;
        })
      : undefined,
    wantSummary && i.llm ? summarize(i.llm, i.transcript, i.endReason) : undefined,
    schema && i.llm ? extractStructured(i.llm, schema, i.transcript) : {},
  ]);
  return { recordingPath, summary, structured };
}
