import { type TSchema, Type } from 'typebox';

/** Shared response shapes. Every route documents `{status:'success', data}` and the DESIGN.md error body. */
export const ErrorSchema = Type.Object(
  {
    status: Type.Literal('error'),
    error: Type.Object({
      code: Type.String({ description: 'Stable code from the error table (src/errors.ts)' }),
      message: Type.String(),
      details: Type.Optional(Type.Unknown()),
    }),
  },
  { description: 'Error' },
);

export function envelope<T extends TSchema>(data: T) {
  return Type.Object({ status: Type.Literal('success'), data });
}

/**
 * `{200: envelope(data), '4xx': error, '5xx': error}` for a route's `response`. Typed as plain TSchema on purpose:
 * response schemas document the API (serialization is JSON.stringify, see app.ts), handlers are not bound by them.
 */
export function responses(data: TSchema, status = 200): Record<string, TSchema> {
  return { [status]: envelope(data), '4xx': ErrorSchema, '5xx': ErrorSchema };
}

export const PageQuery = Type.Object({
  cursor: Type.Optional(Type.String({ description: 'Opaque cursor from a previous page (nextCursor)' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
});

export const RangeQuery = Type.Object({
  from: Type.Optional(Type.String({ format: 'date-time', description: 'ISO 8601 start (inclusive)' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'ISO 8601 end (inclusive)' })),
  cursor: Type.Optional(Type.String()),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
});

export function page<T extends TSchema>(row: T) {
  return Type.Object({ rows: Type.Array(row), nextCursor: Type.Optional(Type.String()) });
}

export const AssistantKeyParams = Type.Object({
  assistantApiKey: Type.String({ description: 'The assistant key (ast_…); the agent id (ag_…) is accepted too' }),
});

export const Anything = Type.Unknown();
export const Obj = Type.Record(Type.String(), Type.Unknown());
