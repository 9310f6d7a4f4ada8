import SwaggerParser from '@apidevtools/swagger-parser';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ragRoutes } from '../../src/api/routes/rag.js';
import { EngineError, errorBody } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { type KnowledgeBase, openKnowledgeBase } from '../../src/rag/index.js';
import { faqFixture, fixture, tempDir } from './helpers.js';
import { makePdf } from './pdf-fixture.js';

// Response bodies are checked field by field against the route schemas; `any` keeps those checks readable.
// biome-ignore lint/suspicious/noExplicitAny: see above
type ApiBody = { status: string; data?: any; error?: { code: string; message: string } };

/**
 * The plugin on a small real server: a hook stands in for authentication (tenant from a test header) and a tiny
 * error handler renders EngineError the way the API's does.
 */
describe('RAG routes', () => {
  let app: FastifyInstance;
  let kb: KnowledgeBase;
  let base: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    kb = await openKnowledgeBase({ uri: t.dir, logger: silentLogger });
    app = Fastify({
      ajv: { customOptions: { removeAdditional: false, useDefaults: false, coerceTypes: 'array', allErrors: true } },
    });
    await app.register(swagger, { openapi: { info: { title: 'rag', version: '1' } } });
    app.setErrorHandler((err: FastifyError | EngineError, _req, reply) => {
      if (err instanceof EngineError) return reply.status(err.status).send(errorBody(err.code, err.message));
      if ((err as FastifyError).validation) return reply.status(400).send(errorBody('VALIDATION_FAILED', err.message));
      const status = (err as FastifyError).statusCode ?? 500;
      return reply
        .status(status)
        .send(
          errorBody(
            status === 413 ? 'PAYLOAD_TOO_LARGE' : status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'INTERNAL',
            err.message,
          ),
        );
    });
    app.decorateRequest('tenant', null as never);
    app.addHook('onRequest', async (req) => {
      req.tenant = {
        id: String(req.headers['x-test-tenant'] ?? 'tenant-1'),
        email: 'test@example.com',
        environment: 'production',
      };
    });
    // The API engineer registers the plugin as a plain FastifyPluginAsync (AppDeps.extraRoutes).
    const plugin: FastifyPluginAsync = ragRoutes(kb, { maxUploadBytes: 32 * 1024 });
    await app.register(plugin);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  afterAll(async () => {
    await app.close();
    await kb.close();
    await cleanup();
  });

  const call = async (method: string, path: string, body?: unknown, tenant = 'tenant-1') => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { 'x-test-tenant': tenant, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return {
      status: res.status,
      json: (await res.json()) as ApiBody,
    };
  };
  const upload = async (
    collection: string,
    name: string,
    content: Uint8Array | string,
    type: string,
    fields: Record<string, string> = {},
  ) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append('file', new Blob([content], { type }), name);
    const res = await fetch(`${base}/api/v1/rag/collections/${collection}/documents`, {
      method: 'POST',
      body: form,
      headers: { 'x-test-tenant': 'tenant-1' },
    });
    return {
      status: res.status,
      json: (await res.json()) as ApiBody,
    };
  };

  it('uploads a multipart file, lists, fetches and searches it', async () => {
    const up = await upload('faq', 'faq.csv', faqFixture().csv, 'text/csv', { metadata: '{"source":"test"}' });
    expect(up.status).toBe(201);
    expect(up.json.data).toMatchObject({
      name: 'faq.csv',
      mime: 'text/csv',
      chunks: 56,
      metadata: { source: 'test' },
      collection: 'faq',
    });
    const id = up.json.data.id as string;

    const list = await call('GET', '/api/v1/rag/collections/faq/documents');
    expect(list.json.data.map((d: { id: string }) => d.id)).toEqual([id]);
    expect((await call('GET', `/api/v1/rag/collections/faq/documents/${id}`)).json.data.hash).toBe(up.json.data.hash);

    const search = await call('POST', '/api/v1/rag/collections/faq/search', { query: 'when do you open', topK: 2 });
    expect(search.status).toBe(200);
    expect(search.json.data.hits).toHaveLength(2);
    expect(search.json.data.hits[0]).toMatchObject({
      documentId: id,
      documentName: 'faq.csv',
      section: 'hours',
      collection: 'faq',
    });
    expect(search.json.data.hits[0].text).toContain('Monday to Friday from 9 am to 7 pm');
    expect(search.json.data.hits[0].score).toBeGreaterThan(search.json.data.hits[1].score);
  });

  it('uploads JSON text and base64 PDF; re-upload replaces; delete removes', async () => {
    const md = await call('POST', '/api/v1/rag/collections/docs/documents', {
      name: 'policies.md',
      text: fixture('policies.md').toString('utf8'),
      mime: 'text/markdown',
    });
    expect(md.status).toBe(201);
    const again = await call('POST', '/api/v1/rag/collections/docs/documents', {
      name: 'policies.md',
      text: fixture('policies.md').toString('utf8'),
    });
    expect(again.json.data.id).toBe(md.json.data.id);
    const pdf = await call('POST', '/api/v1/rag/collections/docs/documents', {
      name: 'terms.pdf',
      content: Buffer.from(makePdf([['Kayak paddles are included with every rental.']])).toString('base64'),
      encoding: 'base64',
    });
    expect(pdf.status).toBe(201);
    expect(pdf.json.data.mime).toBe('application/pdf');
    expect((await call('GET', '/api/v1/rag/collections/docs/documents')).json.data).toHaveLength(2);
    const catalog = await call('GET', '/api/v1/catalog/rag/collections');
    expect(catalog.json.data).toContainEqual({
      name: 'docs',
      documents: 2,
      chunks: md.json.data.chunks + pdf.json.data.chunks,
    });

    const del = await call('DELETE', `/api/v1/rag/collections/docs/documents/${pdf.json.data.id}`);
    expect(del).toEqual({ status: 200, json: { status: 'success', data: { id: pdf.json.data.id, deleted: true } } });
    expect((await call('DELETE', `/api/v1/rag/collections/docs/documents/${pdf.json.data.id}`)).json.error?.code).toBe(
      'DOCUMENT_NOT_FOUND',
    );
    const hits = (await call('POST', '/api/v1/rag/collections/docs/search', { query: 'kayak paddles rental' })).json
      .data.hits as { documentName: string }[];
    expect(hits.map((h) => h.documentName)).not.toContain('terms.pdf');
  });

  it('estimates without indexing', async () => {
    const est = await call('POST', '/api/v1/rag/documents/estimate', {
      name: 'about.txt',
      text: fixture('about.txt').toString('utf8'),
    });
    expect(est.status).toBe(200);
    expect(est.json.data).toMatchObject({ chunks: 1, embeddingCostUsd: 0 });
    expect(est.json.data.characters).toBe(fixture('about.txt').toString('utf8').length);
    expect(
      (await call('GET', '/api/v1/catalog/rag/collections')).json.data.map((c: { name: string }) => c.name),
    ).not.toContain('about');
  });

  it('answers bad requests with a clear 4xx and leaves the collection as it was', async () => {
    const before = (await call('GET', '/api/v1/rag/collections/faq/documents')).json.data;
    const big = await upload('faq', 'big.txt', 'x'.repeat(40 * 1024), 'text/plain');
    expect(big.status).toBe(413);
    expect(big.json.error?.code).toBe('PAYLOAD_TOO_LARGE');
    const png = await upload('faq', 'logo.png', new Uint8Array([137, 80, 78, 71, 13, 10]), 'image/png');
    expect(png.status).toBe(415);
    expect(png.json.error?.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const badCsv = await upload('faq', 'faq.csv', 'question,answer\n"never closed', 'text/csv');
    expect(badCsv.status).toBe(400);
    expect(badCsv.json.error?.message).toMatch(/never closed/);
    const badJson = await call('POST', '/api/v1/rag/collections/faq/documents', {
      name: 'x.json',
      text: '{"a":',
      mime: 'application/json',
    });
    expect(badJson.json.error?.code).toBe('VALIDATION_FAILED');
    expect((await call('POST', '/api/v1/rag/collections/faq/documents', { name: 'x.txt' })).status).toBe(400);
    expect(
      (await call('POST', '/api/v1/rag/collections/faq/documents', { name: 'x.txt', text: 'hi', extra: 1 })).status,
    ).toBe(400);
    expect(
      (await call('POST', '/api/v1/rag/collections/bad%20name/documents', { name: 'x.txt', text: 'hi' })).status,
    ).toBe(400);
    expect((await call('GET', '/api/v1/rag/collections/faq/documents')).json.data).toEqual(before);

    expect((await call('POST', '/api/v1/rag/collections/faq/search', { query: '' })).status).toBe(400);
    expect((await call('POST', '/api/v1/rag/collections/faq/search', { query: 'x', topK: 500 })).status).toBe(400);
    const missing = await call('POST', '/api/v1/rag/collections/nope/search', { query: 'hours' });
    expect(missing).toMatchObject({ status: 404, json: { error: { code: 'COLLECTION_NOT_FOUND' } } });
    expect((await call('GET', '/api/v1/rag/collections/nope/documents')).status).toBe(404);
    expect((await call('GET', '/api/v1/rag/collections/faq/documents/doc_0000000000000000')).json.error?.code).toBe(
      'DOCUMENT_NOT_FOUND',
    );
  });

  it('scopes everything to the authenticated tenant', async () => {
    const other = 'tenant-2';
    expect((await call('GET', '/api/v1/catalog/rag/collections', undefined, other)).json.data).toEqual([]);
    expect(
      (await call('POST', '/api/v1/rag/collections/faq/search', { query: 'when do you open' }, other)).status,
    ).toBe(404);
    const id = (await call('GET', '/api/v1/rag/collections/faq/documents')).json.data[0].id as string;
    expect((await call('GET', `/api/v1/rag/collections/faq/documents/${id}`, undefined, other)).status).toBe(404);
    expect((await call('DELETE', `/api/v1/rag/collections/faq/documents/${id}`, undefined, other)).status).toBe(404);
    expect((await call('GET', `/api/v1/rag/collections/faq/documents/${id}`)).status).toBe(200);
  });

  it('documents every route in a valid OpenAPI 3 spec', async () => {
    const spec = app.swagger() as {
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, unknown> } }>>;
    };
    expect(Object.keys(spec.paths).sort()).toEqual([
      '/api/v1/catalog/rag/collections',
      '/api/v1/rag/collections/{name}/documents',
      '/api/v1/rag/collections/{name}/documents/{id}',
      '/api/v1/rag/collections/{name}/search',
      '/api/v1/rag/documents/estimate',
    ]);
    expect(
      Object.keys(spec.paths['/api/v1/rag/collections/{name}/documents']!.post!.requestBody!.content).sort(),
    ).toEqual(['application/json', 'multipart/form-data']);
    await SwaggerParser.validate(structuredClone(spec) as never);
  });
});
