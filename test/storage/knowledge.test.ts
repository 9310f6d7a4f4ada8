import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { openKnowledgeBase } from '../../src/rag/index.js';
import { knowledgeTarget } from '../../src/storage/knowledge.js';

let dir = '';
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

describe('knowledge base location (KNOWLEDGE_URI)', () => {
  it('defaults to DATA_DIR/lancedb, and a local path opens a working knowledge base there', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 've-kb-target-'));
    expect(knowledgeTarget({}, dir)).toEqual({ uri: path.join(dir, 'lancedb') });
    const target = knowledgeTarget({ KNOWLEDGE_URI: path.join(dir, 'kb'), KNOWLEDGE_STORAGE_OPTIONS: '{}' }, dir);
    expect(target.uri).toBe(path.join(dir, 'kb'));
    const kb = await openKnowledgeBase({ ...target, logger: silentLogger });
    try {
      await kb.upsertDocument('t_a', 'faq', {
        name: 'hours.md',
        content: 'We are open from nine to five on weekdays.',
      });
      const hits = await kb.search('t_a', 'faq', 'when are you open');
      expect(hits[0]?.text).toContain('nine to five');
    } finally {
      await kb.close();
    }
  });

  it('maps the S3 settings to LanceDB storage options for an s3:// URI (MinIO-like endpoint, path style)', () => {
    const t = knowledgeTarget(
      {
        KNOWLEDGE_URI: 's3://kb-bucket/engine',
        S3_ENDPOINT: 'http://minio:9000',
        S3_REGION: 'eu-central-1',
        AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'secret',
        KNOWLEDGE_STORAGE_OPTIONS: '{"timeout":"60s"}',
      },
      '/data',
    );
    expect(t).toEqual({
      uri: 's3://kb-bucket/engine',
      storageOptions: {
        aws_endpoint: 'http://minio:9000',
        allow_http: 'true',
        aws_virtual_hosted_style_request: 'false',
        aws_region: 'eu-central-1',
        aws_access_key_id: 'AKIAEXAMPLE',
        aws_secret_access_key: 'secret',
        timeout: '60s',
      },
    });
    // AWS itself: no endpoint, credentials from the SDK chain (instance role): only the region.
    expect(knowledgeTarget({ KNOWLEDGE_URI: 's3://kb/x', AWS_REGION: 'us-west-2' }, '/d')).toEqual({
      uri: 's3://kb/x',
      storageOptions: { aws_region: 'us-west-2' },
    });
    expect(knowledgeTarget({ KNOWLEDGE_URI: 'gs://kb/x' }, '/d')).toEqual({ uri: 'gs://kb/x' });
  });

  it('refuses a URI scheme LanceDB would not take and storage options that are not strings', () => {
    expect(() => knowledgeTarget({ KNOWLEDGE_URI: 'http://example.com/kb' }, '/d')).toThrow(/KNOWLEDGE_URI/);
    expect(() => knowledgeTarget({ KNOWLEDGE_URI: 's3://' }, '/d')).toThrow(/KNOWLEDGE_URI/);
    expect(() => knowledgeTarget({ KNOWLEDGE_STORAGE_OPTIONS: '{"timeout":60}' }, '/d')).toThrow(/JSON object/);
    expect(() => knowledgeTarget({ KNOWLEDGE_STORAGE_OPTIONS: 'nope' }, '/d')).toThrow(/JSON object/);
  });
});
