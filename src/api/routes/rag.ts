/**
 * Knowledge-base routes (issue 8), registered after authentication: every handler reads `request.tenant.id` and
 * passes it to the knowledge base, which keeps one LanceDB table per tenant. Uploads are multipart (`file` part,
 * optional `name` and `metadata` fields before it) or JSON `{name, text | content, mime, encoding}`.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { EngineError } from '../../errors.js';
import type { DocumentFile, DocumentInput, KnowledgeBase } from '../../rag/index.js';
import { responses } from '../schemas.js';

const CollectionName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$', description: 'Collection name' });
const CollectionParams = Type.Object({ name: CollectionName });
const DocumentParams = Type.Object({ name: CollectionName, id: Type.String({ description: 'Document id (doc_…)' }) });

const Metadata = Type.Record(Type.String(), Type.String());
const DocumentInfoSchema = Type.Object({
  id: Type.String(),
  collection: Type.String(),
  name: Type.String(),
  mime: Type.String(),
  hash: Type.String({
    description: 'sha256 of the uploaded bytes; re-uploading the same content replaces the document',
  }),
  bytes: Type.Integer(),
  characters: Type.Integer(),
  chunks: Type.Integer(),
  metadata: Metadata,
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

const JsonDocument = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 256 }),
    text: Type.Optional(Type.String({ description: 'Document text (plain, Markdown, HTML, CSV or JSON as text)' })),
    content: Type.Optional(Type.String({ description: 'Document content; base64 when encoding is base64 (e.g. PDF)' })),
    encoding: Type.Optional(Type.Union([Type.Literal('utf8'), Type.Literal('base64')], { default: 'utf8' })),
    mime: Type.Optional(
      Type.String({ description: 'text/plain, text/markdown, text/html, application/pdf, text/csv, application/json' }),
    ),
    metadata: Type.Optional(Metadata),
  },
  { additionalProperties: false },
);

/**
 * Multipart is parsed in the handler (streamed with a size limit), so its schema only documents the form: no
 * `type`, which keeps Fastify's validator from rejecting the (empty) parsed body of a multipart request.
 */
const MultipartDocument = Type.Unsafe<unknown>({
  properties: {
    file: { type: 'string', format: 'binary', description: 'The document' },
    name: { type: 'string', description: 'Document name (default: the file name)' },
    metadata: { type: 'string', description: 'JSON object of string values' },
  },
  required: ['file'],
});

const UploadBody = {
  content: {
    'application/json': { schema: JsonDocument },
    'multipart/form-data': { schema: MultipartDocument },
  },
};

const SearchBody = Type.Object(
  {
    query: Type.String({ minLength: 1, maxLength: 2000 }),
    topK: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: 5 })),
    scoreThreshold: Type.Optional(Type.Number({ minimum: 0 })),
    mode: Type.Optional(
      Type.Union([Type.Literal('auto'), Type.Literal('fts'), Type.Literal('vector'), Type.Literal('hybrid')], {
        default: 'auto',
        description: 'auto: hybrid when the collection has embeddings, else full-text (BM25)',
      }),
    ),
  },
  { additionalProperties: false },
);

const SearchHitSchema = Type.Object({
  text: Type.String(),
  score: Type.Number({ description: 'fts: BM25; vector: cosine similarity; hybrid: RRF normalised to 0..1' }),
  documentId: Type.String(),
  documentName: Type.String(),
  collection: Type.String(),
  chunkIndex: Type.Integer(),
  offsets: Type.Object({ start: Type.Integer(), end: Type.Integer() }),
  section: Type.String({ description: 'Heading path or FAQ pair id' }),
});

const EstimateSchema = Type.Object({
  characters: Type.Integer(),
  tokens: Type.Integer({ description: 'Approximate: characters / 4' }),
  chunks: Type.Integer(),
  embeddingModel: Type.Optional(Type.String()),
  embeddingCostUsd: Type.Number(),
});

const CollectionSchema = Type.Object({ name: Type.String(), documents: Type.Integer(), chunks: Type.Integer() });

export interface RagRouteOptions {
  /** Upload limit, bytes. Default 20 MiB (keep it at or below the knowledge base's own limit). */
  maxUploadBytes?: number;
}

export function ragRoutes(kb: KnowledgeBase, opts: RagRouteOptions = {}): FastifyPluginAsyncTypebox {
  const maxBytes = opts.maxUploadBytes ?? 20 * 2 ** 20;
  const tags = ['rag'];
  return async (app) => {
    if (!app.hasContentTypeParser('multipart/form-data')) {
      await app.register(multipart, { limits: { fileSize: maxBytes, files: 1, fields: 10, fieldSize: 64 * 1024 } });
    }

    /**
     * The document from either body kind; size and shape errors are EngineErrors. A multipart file is streamed to
     * a temp file (`tmp.dir`, removed by the caller) with a hard byte limit checked after reading: busboy stops at
     * the limit and marks the part truncated, which is refused (413), never stored cut short.
     */
    async function readDocument(request: FastifyRequest, tmp: { dir?: string }): Promise<DocumentInput> {
      if (request.isMultipart()) {
        let part: Awaited<ReturnType<FastifyRequest['file']>>;
        let content: DocumentFile;
        try {
          part = await request.file({ limits: { fileSize: maxBytes } });
          if (!part) throw new EngineError('VALIDATION_FAILED', 'The multipart body has no file part');
          tmp.dir = await mkdtemp(path.join(os.tmpdir(), 've-upload-'));
          content = { file: path.join(tmp.dir, 'document') };
          await pipeline(part.file, createWriteStream(content.file, { flags: 'wx' }));
          if (part.file.truncated) {
            throw new EngineError('PAYLOAD_TOO_LARGE', `The document is larger than the ${maxBytes}-byte limit`);
          }
        } catch (err) {
          if (err instanceof EngineError) throw err;
          if ((err as { statusCode?: number }).statusCode === 413) {
            throw new EngineError('PAYLOAD_TOO_LARGE', `The document is larger than the ${maxBytes}-byte limit`);
          }
          throw new EngineError('BAD_REQUEST', `Malformed multipart body: ${(err as Error).message}`);
        }
        const field = (n: string): string | undefined => {
          const f = part!.fields[n];
          const one = Array.isArray(f) ? f[0] : f;
          return one && one.type === 'field' ? String(one.value) : undefined;
        };
        let metadata: Record<string, string> | undefined;
        const rawMeta = field('metadata');
        if (rawMeta !== undefined) {
          try {
            metadata = JSON.parse(rawMeta) as Record<string, string>;
          } catch {
            throw new EngineError('VALIDATION_FAILED', 'metadata must be a JSON object of string values');
          }
          if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
            throw new EngineError('VALIDATION_FAILED', 'metadata must be a JSON object of string values');
          }
        }
        return { name: field('name') ?? part!.filename ?? 'document', mime: part!.mimetype, content, metadata };
      }
      const body = request.body as
        | {
            name: string;
            text?: string;
            content?: string;
            encoding?: string;
            mime?: string;
            metadata?: Record<string, string>;
          }
        | undefined;
      if (!body || typeof body !== 'object')
        throw new EngineError('VALIDATION_FAILED', 'Send a multipart file or a JSON body {name, text}');
      const raw = body.text ?? body.content;
      if (raw === undefined) throw new EngineError('VALIDATION_FAILED', 'body.text or body.content is required');
      let content: Uint8Array | string = raw;
      if (body.encoding === 'base64') {
        if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(raw))
          throw new EngineError('VALIDATION_FAILED', 'body.content is not valid base64');
        content = Buffer.from(raw, 'base64');
      }
      return { name: body.name, mime: body.mime, content, metadata: body.metadata };
    }

    app.post(
      '/api/v1/rag/collections/:name/documents',
      {
        schema: {
          tags,
          summary: 'Upload a document (created, or replaced when the same content or name exists)',
          params: CollectionParams,
          body: UploadBody,
          response: responses(DocumentInfoSchema, 201),
        },
        // JSON bodies carry base64 content: 4/3 of the byte limit plus room for the other fields.
        bodyLimit: Math.ceil(maxBytes * 1.4) + 64 * 1024,
      },
      async (request, reply) => {
        const tmp: { dir?: string } = {};
        try {
          const doc = await readDocument(request, tmp);
          let lastLogged = 0;
          const info = await kb.upsertDocument(
            request.tenant.id,
            request.params.name,
            doc,
            ({ chunksDone, chunksTotal }) => {
              // Large uploads report progress in the log every quarter.
              if (chunksTotal >= 200 && chunksDone - lastLogged >= chunksTotal / 4) {
                lastLogged = chunksDone;
                request.log.info({ chunksDone, chunksTotal, collection: request.params.name }, 'rag: indexing');
              }
            },
          );
          return reply.status(201).send({ status: 'success' as const, data: info });
        } finally {
          if (tmp.dir) await rm(tmp.dir, { recursive: true, force: true });
        }
      },
    );

    app.get(
      '/api/v1/rag/collections/:name/documents',
      {
        schema: {
          tags,
          summary: 'Documents of a collection',
          params: CollectionParams,
          response: responses(Type.Array(DocumentInfoSchema)),
        },
      },
      async (request) => {
        const docs = await kb.listDocuments(request.tenant.id, request.params.name);
        if (docs.length === 0) throw new EngineError('COLLECTION_NOT_FOUND', `No collection '${request.params.name}'`);
        return { status: 'success' as const, data: docs };
      },
    );

    app.get(
      '/api/v1/rag/collections/:name/documents/:id',
      { schema: { tags, summary: 'One document', params: DocumentParams, response: responses(DocumentInfoSchema) } },
      async (request) => {
        const doc = await kb.getDocument(request.tenant.id, request.params.name, request.params.id);
        if (!doc)
          throw new EngineError(
            'DOCUMENT_NOT_FOUND',
            `No document '${request.params.id}' in collection '${request.params.name}'`,
          );
        return { status: 'success' as const, data: doc };
      },
    );

    app.delete(
      '/api/v1/rag/collections/:name/documents/:id',
      {
        schema: {
          tags,
          summary: 'Delete a document and every chunk of it',
          params: DocumentParams,
          response: responses(Type.Object({ id: Type.String(), deleted: Type.Boolean() })),
        },
      },
      async (request) => {
        const deleted = await kb.deleteDocument(request.tenant.id, request.params.name, request.params.id);
        if (!deleted)
          throw new EngineError(
            'DOCUMENT_NOT_FOUND',
            `No document '${request.params.id}' in collection '${request.params.name}'`,
          );
        return { status: 'success' as const, data: { id: request.params.id, deleted } };
      },
    );

    app.post(
      '/api/v1/rag/documents/estimate',
      {
        schema: {
          tags,
          summary: 'Characters, tokens, chunks and embedding cost of a document, before indexing',
          body: UploadBody,
          response: responses(EstimateSchema),
        },
        bodyLimit: Math.ceil(maxBytes * 1.4) + 64 * 1024,
      },
      async (request) => {
        const tmp: { dir?: string } = {};
        try {
          const doc = await readDocument(request, tmp);
          return { status: 'success' as const, data: await kb.estimate(doc) };
        } finally {
          if (tmp.dir) await rm(tmp.dir, { recursive: true, force: true });
        }
      },
    );

    app.post(
      '/api/v1/rag/collections/:name/search',
      {
        schema: {
          tags,
          summary: 'Ranked chunks for a query (the same retrieval the call session uses)',
          params: CollectionParams,
          body: SearchBody,
          response: responses(Type.Object({ query: Type.String(), hits: Type.Array(SearchHitSchema) })),
        },
      },
      async (request) => {
        const { name } = request.params;
        const collections = await kb.listCollections(request.tenant.id);
        if (!collections.some((c) => c.name === name))
          throw new EngineError('COLLECTION_NOT_FOUND', `No collection '${name}'`);
        const { query, topK, scoreThreshold, mode } = request.body;
        const hits = await kb.search(request.tenant.id, name, query, { topK: topK ?? 5, scoreThreshold, mode });
        return { status: 'success' as const, data: { query, hits } };
      },
    );

    app.get(
      '/api/v1/catalog/rag/collections',
      {
        schema: {
          tags: ['catalog', ...tags],
          summary: 'Knowledge-base collections with document and chunk counts',
          response: responses(Type.Array(CollectionSchema)),
        },
      },
      async (request) => ({ status: 'success' as const, data: await kb.listCollections(request.tenant.id) }),
    );
  };
}
