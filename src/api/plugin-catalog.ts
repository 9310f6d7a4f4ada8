/**
 * Integrations a tenant can enable (issue 7, "each provider and tool integration is a plugin"). Prices are in
 * cents, debited from the account credit on purchase. `config` lists the fields the configuration route accepts;
 * fields marked secret are never returned by the API.
 */
export interface PluginSpec {
  id: string;
  name: string;
  kind: 'telephony' | 'messaging' | 'asr' | 'llm' | 'tts' | 'tool';
  priceCents: number;
  description: string;
  config: Array<{ name: string; required: boolean; secret?: boolean; description: string }>;
}

export const PLUGINS: readonly PluginSpec[] = [
  {
    id: 'twilio',
    name: 'Twilio voice',
    kind: 'telephony',
    priceCents: 0,
    description: 'Outbound calls, hangup and transfer through Twilio Programmable Voice (Media Streams)',
    config: [
      { name: 'accountSid', required: true, description: 'Twilio Account SID (AC…)' },
      { name: 'authToken', required: true, secret: true, description: 'Twilio auth token' },
      { name: 'fromNumber', required: true, description: 'Caller id for outbound calls (E.164)' },
      { name: 'baseUrl', required: false, description: 'API base URL (default https://api.twilio.com)' },
    ],
  },
  {
    id: 'telnyx',
    name: 'Telnyx voice',
    kind: 'telephony',
    priceCents: 0,
    description: 'Hangup and transfer of Telnyx media-stream calls through Telnyx Call Control (REST)',
    config: [
      { name: 'apiKey', required: true, secret: true, description: 'Telnyx API key (KEY…)' },
      {
        name: 'streamAuthToken',
        required: false,
        secret: true,
        description:
          'The stream_auth_token set on your Telnyx streams: when set, every /media/telnyx upgrade must carry it (x-telnyx-streaming-auth-token)',
      },
      { name: 'fromNumber', required: false, description: 'Sender number for SMS (E.164)' },
      { name: 'baseUrl', required: false, description: 'API base URL (default https://api.telnyx.com)' },
    ],
  },
  {
    id: 'plivo',
    name: 'Plivo voice',
    kind: 'telephony',
    priceCents: 0,
    description:
      'Hangup and transfer of Plivo audio-stream calls through the Plivo Call API (transfer needs PUBLIC_URL: Plivo fetches the signed <Dial> XML from the engine)',
    config: [
      { name: 'authId', required: true, description: 'Plivo Auth ID (MA…/SA…)' },
      { name: 'authToken', required: true, secret: true, description: 'Plivo auth token' },
      { name: 'baseUrl', required: false, description: 'API base URL (default https://api.plivo.com)' },
    ],
  },
  {
    id: 'vonage',
    name: 'Vonage voice',
    kind: 'telephony',
    priceCents: 0,
    description:
      'Hangup and transfer of Vonage websocket calls through the Voice API (JWT); the NCCO websocket endpoint must carry the caller leg uuid as call_uuid (headers or URI query)',
    config: [
      { name: 'applicationId', required: true, description: 'Vonage application id' },
      {
        name: 'privateKey',
        required: true,
        secret: true,
        description: "The application's private key (PEM; newlines may be written as \\n)",
      },
      { name: 'baseUrl', required: false, description: 'API base URL (default https://api.nexmo.com)' },
    ],
  },
  {
    id: 'jambonz',
    name: 'jambonz',
    kind: 'telephony',
    priceCents: 0,
    description:
      'Hangup and transfer of jambonz calls through the jambonz REST API (transfer needs PUBLIC_URL: jambonz fetches the signed dial verb from the engine)',
    config: [
      { name: 'accountSid', required: true, description: 'jambonz account sid' },
      { name: 'apiKey', required: true, secret: true, description: 'jambonz API key' },
      { name: 'baseUrl', required: false, description: 'API base URL (default https://jambonz.cloud/api)' },
    ],
  },
  {
    id: 'asterisk',
    name: 'Asterisk (ARI)',
    kind: 'telephony',
    priceCents: 0,
    description: 'Outbound calls through your Asterisk PBX (ARI originate into a dialplan that bridges to the engine)',
    config: [
      { name: 'ariUrl', required: true, description: 'ARI base URL, e.g. http://pbx:8088' },
      { name: 'username', required: true, description: 'ARI user' },
      { name: 'password', required: true, secret: true, description: 'ARI password' },
      { name: 'endpoint', required: true, description: 'Dial string template, e.g. PJSIP/{number}@trunk' },
      { name: 'context', required: true, description: 'Dialplan context the answered call enters' },
      { name: 'extension', required: false, description: 'Dialplan extension (default s)' },
      { name: 'callerId', required: false, description: 'Caller id' },
    ],
  },
  {
    id: 'freeswitch',
    name: 'FreeSWITCH (ESL)',
    kind: 'telephony',
    priceCents: 0,
    description: 'Outbound calls through FreeSWITCH (bgapi originate + mod_audio_stream to the engine)',
    config: [
      { name: 'host', required: true, description: 'Event Socket host' },
      { name: 'port', required: false, description: 'Event Socket port (default 8021)' },
      { name: 'password', required: true, secret: true, description: 'Event Socket password' },
      { name: 'dialString', required: true, description: 'Dial string template, e.g. sofia/gateway/gw/{number}' },
      { name: 'callerId', required: false, description: 'Caller id number' },
      { name: 'sampleRate', required: false, description: 'mod_audio_stream rate: 8k (default) or 16k' },
    ],
  },
  {
    id: 'sip',
    name: 'SIP trunk',
    kind: 'telephony',
    priceCents: 0,
    description:
      'Your SIP trunk or PBX straight to the engine (SIP_PORT): inbound calls (digest credentials the trunk must present when it calls a routed number from an address not on the IP allowlist), outbound calls and registration through the trunk',
    config: [
      { name: 'username', required: false, description: 'Inbound: digest user name the trunk authenticates with' },
      { name: 'password', required: false, secret: true, description: 'Inbound: digest password' },
      { name: 'trunkHost', required: false, description: 'Outbound / registration: the trunk, host[:port]' },
      { name: 'trunkTransport', required: false, description: 'udp (default), tcp or tls' },
      { name: 'trunkUsername', required: false, description: 'Our account at the trunk (digest user, AOR user)' },
      { name: 'trunkPassword', required: false, secret: true, description: 'Our digest password at the trunk' },
      { name: 'trunkDomain', required: false, description: 'SIP domain of the account (default: trunkHost)' },
      { name: 'fromNumber', required: false, description: 'Caller id for outbound calls' },
      { name: 'register', required: false, description: 'true: register to the trunk (REGISTER, refreshed)' },
      { name: 'registerExpires', required: false, description: 'Registration expiry asked, s (default 600)' },
      { name: 'ringTimeout', required: false, description: 'Outbound ring timeout, s (default 30)' },
    ],
  },
  {
    id: 'whatsapp',
    name: 'WhatsApp (Cloud API)',
    kind: 'messaging',
    priceCents: 500,
    description:
      "WhatsApp messages through Meta's WhatsApp Business Cloud API; replies are answered by an assistant (webhook /webhook/whatsapp/{tenantId})",
    config: [
      { name: 'phoneNumberId', required: true, description: 'The business phone number id (WhatsApp Manager)' },
      { name: 'accessToken', required: true, secret: true, description: 'System-user access token (Bearer)' },
      { name: 'appSecret', required: false, secret: true, description: 'App secret: verifies X-Hub-Signature-256' },
      { name: 'verifyToken', required: false, secret: true, description: 'Token of the webhook verification GET' },
      { name: 'agentId', required: false, description: 'Assistant (ag_…) answering contacts not bound by a send' },
      { name: 'apiVersion', required: false, description: 'Graph API version (default v21.0)' },
      { name: 'baseUrl', required: false, description: 'API base URL (default https://graph.facebook.com)' },
    ],
  },
  {
    id: 'deepgram',
    name: 'Deepgram ASR / TTS',
    kind: 'asr',
    priceCents: 0,
    description: 'Streaming speech recognition and Aura voices',
    config: [{ name: 'apiKey', required: false, secret: true, description: 'Own key (else the engine key)' }],
  },
  {
    id: 'openai',
    name: 'OpenAI (or compatible)',
    kind: 'llm',
    priceCents: 0,
    description: 'Chat completions, speech, transcription, embeddings',
    config: [{ name: 'apiKey', required: false, secret: true, description: 'Own key (else the engine key)' }],
  },
  {
    id: 'elevenlabs',
    name: 'ElevenLabs TTS',
    kind: 'tts',
    priceCents: 1000,
    description: 'Low-latency streaming voices',
    config: [{ name: 'apiKey', required: false, secret: true, description: 'Own key (else the engine key)' }],
  },
  {
    id: 'mcp',
    name: 'MCP tools',
    kind: 'tool',
    priceCents: 0,
    description:
      'Tools from Model Context Protocol servers (assistant precall.mcpServers): HTTP(S) URLs, or operator servers by name',
    config: [],
  },
];

export function pluginSpec(id: string): PluginSpec | undefined {
  return PLUGINS.find((p) => p.id === id);
}

/** The instance config as the API shows it: secrets masked. */
export function maskConfig(spec: PluginSpec, config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  for (const f of spec.config) if (f.secret && typeof out[f.name] === 'string') out[f.name] = '********';
  return out;
}
