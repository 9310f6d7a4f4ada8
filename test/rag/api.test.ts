import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ragRoutes } from '../../src/api/routes/rag.js';
import { silentLogger } from '../../src/log.js';
import { type KnowledgeBase, openKnowledgeBase } from '../../src/rag/index.js';
import { type Harness, startHarness } from '../api/harness.js';
import { faqFixture, tempDir } from './helpers.js';

/**
 * The plugin inside the real control API (src/api/app.ts via the API tests' harness): real authentication, real
 * error renderer, real OpenAPI document.
 */
describe('RAG routes in the control API', () => {
  let h: Harness;
  let kb: KnowledgeBase;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    kb = await openKnowledgeBase({ uri: t.dir, logger: silentLogger });
    h = await startHarness({ extraRoutes: [ragRoutes(kb)] });
  });
  afterAll(async () => {
    await h.close();
    await kb.close();
    await cleanup();
  });

  it('needs credentials and scopes data to the authenticated tenant', async () => {
    expect((await h.call('GET', '/api/v1/catalog/rag/collections')).status).toBe(401);
    const up = await h.call('POST', '/api/v1/rag/collections/faq/documents', {
      headers: h.a.h,
      body: { name: 'faq.csv', text: faqFixture().csv },
    });
    expect(up.status).toBe(201);
    expect(up.body.data.chunks).toBe(56);
    const search = await h.call('POST', '/api/v1/rag/collections/faq/search', {
      headers: h.a.h,
      body: { query: 'when do you open', topK: 1 },
    });
    expect(search.body.data.hits[0].section).toBe('hours');
    // Bearer auth (CallAI style) works the same.
    const bearer = await h.call('GET', '/api/v1/catalog/rag/collections', {
      headers: { authorization: `Bearer ${h.a.key}` },
    });
    expect(bearer.body.data).toEqual([{ name: 'faq', documents: 1, chunks: 56 }]);
    // Tenant b sees nothing of tenant a.
    expect((await h.call('GET', '/api/v1/catalog/rag/collections', { headers: h.b.h })).body.data).toEqual([]);
    const other = await h.call('GET', `/api/v1/rag/collections/faq/documents/${up.body.data.id}`, { headers: h.b.h });
    expect(other.status).toBe(404);
    expect(other.body).toMatchObject({ status: 'error', error: { code: 'DOCUMENT_NOT_FOUND' } });
  });

  it('renders validation errors with the API error body', async () => {
    const res = await h.call('POST', '/api/v1/rag/collections/faq/search', {
      headers: h.a.h,
      body: { query: 'x', topK: 0 },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ status: 'error', error: { code: 'VALIDATION_FAILED' } });
  });

  it('appears in the OpenAPI document, which stays valid', async () => {
    const doc = (await h.call('GET', '/openapi.json')).body;
    for (const p of [
      '/api/v1/rag/collections/{name}/documents',
      '/api/v1/rag/collections/{name}/documents/{id}',
      '/api/v1/rag/collections/{name}/search',
      '/api/v1/rag/documents/estimate',
      '/api/v1/catalog/rag/collections',
    ]) {
      expect(doc.paths[p]).toBeDefined();
    }
    await SwaggerParser.validate(structuredClone(doc));
  });
});
