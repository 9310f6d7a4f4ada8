import type { AssistantConfig } from '../assistant.js';
import type { LlmProvider } from '../providers/types.js';
import type { CallSummary, SessionDeps } from './deps.js';
import { afterCall } from './post-call.js';
import type { StereoCallRecorder } from './recorder.js';
import type { WireRecorder } from './wire-recorder.js';

/**
 * The last step of a call, once everything live is released: the call record's final status, the wire recording
 * closed, the post-call work (recording file, summary, structured output) and the `onEnded` hand-off (-> the
 * call.ended webhook). Returns the summary the session's `done` resolves with.
 */
export interface CloseCallInput {
  deps: SessionDeps;
  llm: LlmProvider;
  config: AssistantConfig;
  recorder: StereoCallRecorder | undefined;
  wire: WireRecorder | undefined;
  /** Where the recording goes (src/call-files.ts). */
  recordingFile: string;
  summary: Omit<CallSummary, 'endedAt' | 'recordingPath' | 'wirePath' | 'summary' | 'structuredOutput'>;
}

export async function closeCall(i: CloseCallInput): Promise<CallSummary> {
  const { deps } = i;
  const { endReason, durationMs } = i.summary;
  const endedAt = new Date().toISOString();
  // Store statuses (src/store CallStatus): a call that fails to start or breaks ends as 'failed'.
  const status = endReason.startsWith('error') || endReason === 'provider_unavailable' ? 'failed' : 'completed';
  deps.sink.update({ status, endedAt, endReason, durationMs });
  const wirePath = i.wire?.file;
  await i.wire?.close();

  const { recordingPath, summary, structured } = await afterCall({
    llm: i.llm,
    config: i.config,
    transcript: i.summary.transcript,
    endReason,
    recorder: i.recorder,
    recordingFile: i.recordingFile,
    logger: deps.logger,
  });
  deps.sink.update({
    recordingPath,
    summary,
    ...(structured.value !== undefined && !structured.error ? { structuredOutput: structured.value } : {}),
    ...(structured.error ? { structuredOutputError: structured.error } : {}),
  });
  const result: CallSummary = {
    ...i.summary,
    endedAt,
    recordingPath,
    wirePath,
    summary,
    structuredOutput: structured.error ? undefined : structured.value,
    structuredOutputError: structured.error,
  };
  try {
    deps.onEnded?.(result);
  } catch (err) {
    deps.logger.warn({ err: (err as Error).message, callId: result.callId }, 'onEnded failed');
  }
  return result;
}
