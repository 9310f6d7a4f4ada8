import { type Logger, pino } from 'pino';

export type { Logger };

/** Structured logs with secrets redacted. Never log per audio frame. */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    redact: {
      paths: [
        'apiKey',
        '*.apiKey',
        'token',
        '*.token',
        'authorization',
        'headers.authorization',
        'req.headers.authorization',
        'req.headers["x-portal-api-key"]',
        '*.portalApiKey',
        '*.assistantApiKey',
      ],
      censor: '[redacted]',
    },
  });
}

/** A logger that drops everything (tests, CLI subcommands that print JSON). */
export const silentLogger: Logger = pino({ level: 'silent' });
