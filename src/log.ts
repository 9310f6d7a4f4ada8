import { type Logger, pino } from 'pino';

export type { Logger };

/** Structured logs with secrets redacted. Never log per audio frame. */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    redact: {
      // Every credential field name the engine uses, at the top level and one level down (pino's `*` is one
      // level): plugin configs (authToken, streamAuthToken, password, privateKey, apiKey), keys, secrets, and the
      // request headers that carry them.
      paths: [
        ...[
          'apiKey',
          'token',
          'authToken',
          'streamAuthToken',
          'password',
          'privateKey',
          'secret',
          'secretsKey',
          'secretsKeyPrevious',
          'adminApiKey',
          'portalApiKey',
          'assistantApiKey',
          'authorization',
        ].flatMap((k) => [k, `*.${k}`]),
        ...[
          'authorization',
          'x-portal-api-key',
          'x-admin-api-key',
          'x-twilio-signature',
          'x-telnyx-streaming-auth-token',
        ].flatMap((h) => [`headers["${h}"]`, `req.headers["${h}"]`]),
      ],
      censor: '[redacted]',
    },
  });
}

/** A logger that drops everything (tests, CLI subcommands that print JSON). */
export const silentLogger: Logger = pino({ level: 'silent' });
