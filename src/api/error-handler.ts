import type { FastifyError, FastifyInstance } from 'fastify';
import { EngineError, type ErrorCode, errorBody } from '../errors.js';

interface ValidationItem {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Field named by an ajv error: the path, or the offending property for `required` / `additionalProperties`. */
function fieldOf(v: ValidationItem): string {
  const base = (v.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
  const prop = (v.params?.missingProperty ?? v.params?.additionalProperty) as string | undefined;
  if (prop) return base ? `${base}.${prop}` : prop;
  return base;
}

/** Fastify's own 4xx errors mapped onto our table. */
function codeForStatus(status: number): ErrorCode {
  if (status === 413) return 'PAYLOAD_TOO_LARGE';
  if (status === 415) return 'UNSUPPORTED_MEDIA_TYPE';
  if (status === 404) return 'NOT_FOUND';
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'FORBIDDEN';
  if (status === 429) return 'RATE_LIMITED';
  return 'BAD_REQUEST';
}

/** One error renderer for the whole app: {"status":"error","error":{"code","message"[,"details"]}} (DESIGN.md 5). */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | EngineError, request, reply) => {
    if (err instanceof EngineError) {
      if (err.status >= 500) request.log.error({ err }, 'request failed');
      return reply.status(err.status).send(errorBody(err.code, err.message, err.details));
    }
    const validation = (err as FastifyError).validation as ValidationItem[] | undefined;
    if (validation) {
      const ctx = (err as FastifyError).validationContext ?? 'body';
      const details = validation.map((v) => ({
        in: ctx,
        field: fieldOf(v),
        instancePath: v.instancePath ?? '',
        message: v.message ?? 'is invalid',
      }));
      const message = details.map((d) => `${ctx}${d.field ? `.${d.field}` : ''} ${d.message}`).join('; ');
      return reply.status(400).send(errorBody('VALIDATION_FAILED', message, details));
    }
    const status = (err as FastifyError).statusCode;
    if (status && status >= 400 && status < 500) {
      return reply.status(status).send(errorBody(codeForStatus(status), err.message));
    }
    request.log.error({ err }, 'unhandled error');
    return reply.status(500).send(errorBody('INTERNAL'));
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(errorBody('NOT_FOUND', `Route ${request.method} ${request.url.split('?')[0]} not found`));
  });
}
