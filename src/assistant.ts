import { type Static, Type } from 'typebox';

/**
 * One assistant = one JSON document, validated by this schema, which also feeds the OpenAPI spec
 * (DESIGN.md section 6). Each block is readable and patchable on its own under /runtime/<block>.
 * Every field is optional with a documented default, so `{}` is a working (offline) assistant.
 */

export const SettingsSchema = Type.Object(
  {
    /** Caller silence before a reprompt, ms. */
    silenceTimeoutMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 600_000, default: 10_000 })),
    /** Reprompts before hanging up for silence. */
    silenceReprompts: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, default: 2 })),
    maxDurationSec: Type.Optional(Type.Integer({ minimum: 10, maximum: 14_400, default: 1800 })),
    /** 0 = never interruptible, 1 = any speech interrupts. */
    interruptionSensitivity: Type.Optional(Type.Number({ minimum: 0, maximum: 1, default: 0.5 })),
    /** Minimum sustained caller speech before a barge-in, ms. */
    bargeInMinSpeechMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 2000, default: 200 })),
    endpointing: Type.Optional(
      Type.Object({
        minDelayMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 5000, default: 250 })),
        maxDelayMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 10_000, default: 1500 })),
      }),
    ),
    /**
     * Interruptions: caller speech over the agent pauses it at once (its audio stops, the position is kept); then
     * words, duration and energy decide within a bounded window: a real interruption takes the turn (the agent's
     * message is cut to what was heard), a false one (noise, a cough, "uh-huh", "okay", "thank you") resumes it.
     */
    interruption: Type.Optional(
      Type.Object({
        /** Words that are not an acknowledgement needed to make an interruption real. */
        minWords: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, default: 1 })),
        /** Resume the agent where it paused after a false interruption (false: it stays stopped). */
        resumeAfterFalse: Type.Optional(Type.Boolean({ default: true })),
        /** After the caller's speech ends, how long a pause waits for words before resuming, ms. */
        falseTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 5000, default: 700 })),
        /** The first message cannot be interrupted (e.g. a legal disclosure). */
        firstMessageUninterruptible: Type.Optional(Type.Boolean({ default: false })),
      }),
    ),
    /** A caller who talks without pause is cut into turns at this length, ms. */
    maxUtteranceMs: Type.Optional(Type.Integer({ minimum: 3000, maximum: 120_000, default: 20_000 })),
    /**
     * Preemptive generation: the LLM starts on the caller's words once they pause and the words look finished
     * (or on the recognizer's eager end of turn), before endpointing commits; the reply is kept if the final
     * words match, else dropped unheard. Costs an extra LLM request when the caller goes on.
     */
    preemptiveGeneration: Type.Optional(Type.Boolean({ default: true })),
    /**
     * RNNoise noise suppression on the caller's audio before the VAD and the ASR (music, street or office noise on
     * the line: fewer false barge-ins; `npx voice-engine bench noise`). The ASR then takes PCM, not the wire codec.
     */
    noiseSuppression: Type.Optional(Type.Boolean({ default: false })),
    /**
     * Voice activity detection on the caller's audio: `silero` WebRTC's VAD finds candidate speech and Silero VAD
     * (a neural model that rejects music and noise) confirms it, running only while WebRTC hears something; `webrtc`
     * WebRTC's VAD alone (cheaper; takes music on hold for speech).
     */
    vad: Type.Optional(Type.Union([Type.Literal('silero'), Type.Literal('webrtc')], { default: 'silero' })),
    /**
     * What the caller hears when the answer is slower than fillerAfterMs (from media/): `filler` a spoken phrase
     * ("One moment please."), `sound` a soft thinking sound, `music` hold music, `none` silence. Cut the moment the
     * answer starts; never started while the caller speaks.
     */
    thinkingAudio: Type.Optional(
      Type.Union([Type.Literal('none'), Type.Literal('filler'), Type.Literal('sound'), Type.Literal('music')], {
        default: 'none',
      }),
    ),
    /** Speak a filler when the LLM or a tool is slower than this, ms (0 = never). */
    fillerAfterMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000, default: 1200 })),
    /** Save raw inbound wire messages as JSONL for exact replay. */
    recordWire: Type.Optional(Type.Boolean({ default: false })),
    /** Save a stereo WAV (caller left, agent right). */
    recordAudio: Type.Optional(Type.Boolean({ default: true })),
    /**
     * Voicemail detection (answering-machine detection) on outbound calls; on inbound streams only with the stream
     * parameter `amd=true`. `leave_message` waits for the beep (or the end of the greeting), says `message`, hangs up.
     */
    voicemail: Type.Optional(
      Type.Object(
        {
          detect: Type.Boolean({ default: false }),
          action: Type.Union([Type.Literal('hangup'), Type.Literal('leave_message')], { default: 'hangup' }),
          message: Type.Optional(Type.String({ maxLength: 2000 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const AsrConfigSchema = Type.Object(
  {
    provider: Type.Optional(Type.String({ default: 'offline', description: 'deepgram | openai | offline' })),
    model: Type.Optional(Type.String()),
    language: Type.Optional(Type.String()),
    keyterms: Type.Optional(Type.Array(Type.String(), { maxItems: 100 })),
    fallback: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);

export const RuleSchema = Type.Object(
  {
    /** Case-insensitive keywords; any one matches. */
    keywords: Type.Optional(Type.Array(Type.String())),
    /** A regular expression (JavaScript syntax, case-insensitive). */
    regex: Type.Optional(Type.String()),
    /** A DTMF digit or digit string. */
    dtmf: Type.Optional(Type.String()),
    reply: Type.Optional(Type.String()),
    tool: Type.Optional(Type.String()),
    toolArgs: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);

export const LlmConfigSchema = Type.Object(
  {
    provider: Type.Optional(Type.String({ default: 'rules', description: 'openai | rules' })),
    model: Type.Optional(Type.String()),
    /** Ignored by reasoning models (gpt-5, o-series), which reject it. */
    temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 2 })),
    /** Reasoning models only (gpt-5, o-series): `reasoning_effort`; 'minimal' / 'low' keep replies fast. */
    reasoningEffort: Type.Optional(
      Type.Union([
        Type.Literal('none'),
        Type.Literal('minimal'),
        Type.Literal('low'),
        Type.Literal('medium'),
        Type.Literal('high'),
      ]),
    ),
    maxTokens: Type.Optional(Type.Integer({ minimum: 1, maximum: 32_000 })),
    /** Rules for the offline `rules` agent (ignored by language models). */
    rules: Type.Optional(Type.Array(RuleSchema)),
    fallbackReply: Type.Optional(Type.String()),
    fallback: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);

export const TtsConfigSchema = Type.Object(
  {
    provider: Type.Optional(
      Type.String({ default: 'offline', description: 'elevenlabs | openai | deepgram | offline' }),
    ),
    voice: Type.Optional(Type.String()),
    model: Type.Optional(Type.String()),
    /**
     * Speaking rate. Each provider has its own range (ElevenLabs 0.7-1.2, Deepgram Aura-2 0.7-1.5, OpenAI 0.25-4,
     * offline 0.5-2; listed by the provider catalog): a value outside it is clamped and reported as a call incident.
     */
    speed: Type.Optional(Type.Number({ minimum: 0.5, maximum: 2 })),
    fallback: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);

export const DtmfConfigSchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ default: true })),
    /** Digit collection: digits gathered until terminator or inter-digit timeout, then handed to the LLM. */
    terminator: Type.Optional(Type.String({ default: '#', maxLength: 1 })),
    interDigitTimeoutMs: Type.Optional(Type.Integer({ minimum: 500, maximum: 30_000, default: 3000 })),
    maxDigits: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, default: 20 })),
    /** Menu: digit -> action. A menu digit acts at once instead of being collected. */
    menu: Type.Optional(
      Type.Record(
        Type.String(),
        Type.Object({
          reply: Type.Optional(Type.String()),
          tool: Type.Optional(Type.String()),
          toolArgs: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
          transferTo: Type.Optional(Type.String()),
          hangup: Type.Optional(Type.Boolean()),
        }),
      ),
    ),
  },
  { additionalProperties: false },
);

export const RagConfigSchema = Type.Object(
  {
    collections: Type.Optional(Type.Array(Type.String())),
    topK: Type.Optional(Type.Integer({ minimum: 1, maximum: 20, default: 3 })),
    scoreThreshold: Type.Optional(Type.Number({ minimum: 0 })),
    mode: Type.Optional(
      Type.Union([Type.Literal('automatic'), Type.Literal('tool'), Type.Literal('both')], { default: 'automatic' }),
    ),
  },
  { additionalProperties: false },
);

export const HttpToolSchema = Type.Object(
  {
    type: Type.Literal('http'),
    name: Type.String({ pattern: '^[a-zA-Z0-9_-]{1,64}$' }),
    description: Type.String(),
    parameters: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    method: Type.Optional(
      Type.Union([
        Type.Literal('GET'),
        Type.Literal('POST'),
        Type.Literal('PUT'),
        Type.Literal('PATCH'),
        Type.Literal('DELETE'),
      ]),
    ),
    url: Type.String(),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    /** Body template; {{arg}} is replaced by the argument's JSON value. */
    body: Type.Optional(Type.String()),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 60_000, default: 10_000 })),
    auth: Type.Optional(
      Type.Object({
        type: Type.Union([Type.Literal('bearer'), Type.Literal('basic'), Type.Literal('header')]),
        token: Type.Optional(Type.String()),
        username: Type.Optional(Type.String()),
        password: Type.Optional(Type.String()),
        header: Type.Optional(Type.String()),
      }),
    ),
    /** Spoken while the call waits for a slow response. */
    filler: Type.Optional(Type.String()),
    /**
     * Said verbatim when the tool is called, before its result ({{arg}} filled), e.g. a legal disclosure;
     * `uninterruptible` (default true): caller speech does not stop it and is answered after it.
     */
    say: Type.Optional(
      Type.Object(
        {
          text: Type.String({ minLength: 1, maxLength: 2000 }),
          uninterruptible: Type.Optional(Type.Boolean({ default: true })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/**
 * An MCP server for the call: either a tenant-supplied streamable-HTTP `url` (requests go through the egress guard),
 * or `server`, the name of a server the operator configured (MCP_SERVERS_FILE, src/tools/mcp-servers.ts). A tenant
 * never supplies a command: `transport: "stdio"`, `command` and `args` are refused (422 MCP_COMMAND_NOT_ALLOWED).
 */
export const McpServerSchema = Type.Object(
  {
    name: Type.String(),
    transport: Type.Optional(Type.Literal('http')),
    url: Type.Optional(Type.String()),
    /** Name of an operator-configured MCP server (MCP_SERVERS_FILE). */
    server: Type.Optional(Type.String()),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    /** Only these tools of the server are offered (all when absent). */
    tools: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);

export const ToolsConfigSchema = Type.Object(
  {
    /** Built-in tools enabled: end_call, transfer_call, send_dtmf, search_knowledge. */
    builtins: Type.Optional(Type.Array(Type.String())),
    http: Type.Optional(Type.Array(HttpToolSchema)),
  },
  { additionalProperties: false },
);

export const HangupConfigSchema = Type.Object(
  {
    endPhrases: Type.Optional(Type.Array(Type.String())),
    goodbyeMessage: Type.Optional(Type.String()),
    transferTargets: Type.Optional(
      Type.Array(
        Type.Object({ name: Type.String(), number: Type.String(), description: Type.Optional(Type.String()) }),
      ),
    ),
    /** When the agent hangs up, transfer the call here instead (E.164 number or SIP URI; src/call/ending.ts). */
    redirect: Type.Optional(Type.String()),
    saveConversation: Type.Optional(
      Type.Object({
        enabled: Type.Optional(Type.Boolean({ default: true })),
        summary: Type.Optional(Type.Boolean({ default: true })),
      }),
    ),
    /** JSON schema of the structured output extracted after the call. */
    schema: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);

export const PrecallConfigSchema = Type.Object(
  {
    numberValidation: Type.Optional(
      Type.Object({
        enabled: Type.Optional(Type.Boolean()),
        allowedPrefixes: Type.Optional(Type.Array(Type.String())),
        blockedNumbers: Type.Optional(Type.Array(Type.String())),
      }),
    ),
    mcpServers: Type.Optional(Type.Array(McpServerSchema)),
  },
  { additionalProperties: false },
);

export const AssistantConfigSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 200 })),
    prompt: Type.Optional(Type.String({ maxLength: 100_000 })),
    /** Spoken when the call starts; {{var}} filled from call metadata. Empty = wait for the caller. */
    firstMessage: Type.Optional(Type.String({ maxLength: 2000 })),
    language: Type.Optional(Type.String({ default: 'en-US' })),
    /** `echo` exercises the gateway without providers. */
    mode: Type.Optional(Type.Union([Type.Literal('agent'), Type.Literal('echo')], { default: 'agent' })),
    settings: Type.Optional(SettingsSchema),
    asr: Type.Optional(AsrConfigSchema),
    llm: Type.Optional(LlmConfigSchema),
    tts: Type.Optional(TtsConfigSchema),
    dtmf: Type.Optional(DtmfConfigSchema),
    rag: Type.Optional(RagConfigSchema),
    tools: Type.Optional(ToolsConfigSchema),
    hangup: Type.Optional(HangupConfigSchema),
    precall: Type.Optional(PrecallConfigSchema),
  },
  { additionalProperties: false },
);

export type AssistantConfig = Static<typeof AssistantConfigSchema>;
export type AssistantSettings = Static<typeof SettingsSchema>;
export type AsrConfig = Static<typeof AsrConfigSchema>;
export type LlmConfig = Static<typeof LlmConfigSchema>;
export type TtsConfig = Static<typeof TtsConfigSchema>;
export type DtmfConfig = Static<typeof DtmfConfigSchema>;
export type RagConfig = Static<typeof RagConfigSchema>;
export type ToolsConfig = Static<typeof ToolsConfigSchema>;
export type HttpToolConfig = Static<typeof HttpToolSchema>;
export type McpServerConfig = Static<typeof McpServerSchema>;
export type HangupConfig = Static<typeof HangupConfigSchema>;
export type PrecallConfig = Static<typeof PrecallConfigSchema>;
export type Rule = Static<typeof RuleSchema>;

/** A stored assistant as the engine and API see it. */
export interface Assistant {
  /** ag_… (CallAI agent_id) */
  id: string;
  /** ast_… (AI4CALL assistantApiKey) */
  assistantApiKey: string;
  tenantId: string;
  config: AssistantConfig;
  /** Increases on every change; live calls poll it to pick up changes from their next turn (DESIGN.md 9). */
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** The runtime blocks patchable under /runtime/<block>. */
export const RUNTIME_BLOCKS = ['settings', 'asr', 'llm', 'tts', 'dtmf', 'rag', 'tools', 'hangup', 'precall'] as const;
export type RuntimeBlock = (typeof RUNTIME_BLOCKS)[number];
