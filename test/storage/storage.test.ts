import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { callFileKeys, callFiles, storeCallFiles } from '../../src/call-files.js';
import { createFileStorage, type FileStorage } from '../../src/storage/index.js';
import { createLocalStorage } from '../../src/storage/local.js';
import { createS3Storage } from '../../src/storage/s3.js';
import { type S3Fake, startS3Fake } from './s3-fake.js';

async function read(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

let dir = '';
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

function spool(tenant: string, call: string, bytes: Buffer): string {
  const file = callFiles(dir, tenant, call).recording;
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, bytes);
  return file;
}

describe('call file keys', () => {
  it('are our own ids under a per-tenant prefix; anything else is refused', () => {
    expect(callFileKeys('t_abc', 'c_123')).toEqual({
      recording: 'recordings/t_abc/c_123.wav',
      wire: 'wire/t_abc/c_123.jsonl',
    });
    expect(() => callFileKeys('t_abc', '../x')).toThrow(/ours/);
    expect(() => callFileKeys('t/abc', 'c_1')).toThrow(/ours/);
  });
});

describe('local storage (the default)', () => {
  it('keeps the spool file where it is and serves, sizes and deletes it by key', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 've-store-local-'));
    const storage = createFileStorage({}, dir);
    expect(storage.kind).toBe('local');
    const bytes = randomBytes(1000);
    const file = spool('t_a', 'c_1', bytes);
    await storeCallFiles(storage, dir, 't_a', 'c_1');
    expect(readFileSync(file)).toEqual(bytes);
    const got = await storage.get('recordings/t_a/c_1.wav');
    expect(got?.size).toBe(1000);
    expect(await read(got!.body)).toEqual(bytes);
    expect(await storage.head('recordings/t_a/c_1.wav')).toBe(1000);
    await storage.delete('recordings/t_a/c_1.wav');
    expect(await storage.get('recordings/t_a/c_1.wav')).toBeUndefined();
    expect(await storage.head('recordings/t_a/c_1.wav')).toBeUndefined();
  });

  it('never resolves a key outside its root', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 've-store-local-'));
    const storage = createLocalStorage(path.join(dir, 'data'));
    writeFileSync(path.join(dir, 'secret'), 'x');
    await expect(storage.get('../secret')).rejects.toThrow(/outside/);
    await expect(storage.putFile('../../evil', path.join(dir, 'secret'), 'text/plain')).rejects.toThrow(/outside/);
  });
});

describe('S3 storage against a loopback S3 (SigV4 checked)', () => {
  let s3: S3Fake;
  let storage: FileStorage;
  beforeAll(async () => {
    s3 = await startS3Fake('calls');
    storage = createFileStorage(
      {
        FILE_STORAGE: 's3',
        S3_BUCKET: 'calls',
        S3_ENDPOINT: s3.endpoint,
        S3_PREFIX: 'engine-a',
        AWS_ACCESS_KEY_ID: s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      },
      '/nonexistent',
    );
  });
  afterAll(() => s3.close());
  const direct = (secretAccessKey: string, partBytes?: number) =>
    createS3Storage({
      bucket: 'calls',
      endpoint: s3.endpoint,
      region: 'eu-west-1',
      forcePathStyle: true,
      prefix: '',
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey },
      ...(partBytes ? { partBytes } : {}),
    });

  it('uploads a finished recording with one PUT, removes the spool file, serves it back, HEAD and DELETE', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 've-store-s3-'));
    const bytes = randomBytes(64 * 1024);
    const file = spool('t_a', 'c_small', bytes);
    await storeCallFiles(storage, dir, 't_a', 'c_small');
    const key = 'engine-a/recordings/t_a/c_small.wav';
    expect(s3.objects.get(key)).toEqual(bytes);
    expect(existsSync(file)).toBe(false);
    expect(s3.requests.filter((r) => r.key === key).map((r) => `${r.method} ${r.status}`)).toEqual(['PUT 200']);
    const got = await storage.get('recordings/t_a/c_small.wav');
    expect(got?.size).toBe(bytes.length);
    expect(await read(got!.body)).toEqual(bytes);
    expect(await storage.head('recordings/t_a/c_small.wav')).toBe(bytes.length);
    await storage.delete('recordings/t_a/c_small.wav');
    expect(s3.objects.has(key)).toBe(false);
    expect(await storage.get('recordings/t_a/c_small.wav')).toBeUndefined();
    expect(await storage.head('recordings/t_a/c_small.wav')).toBeUndefined();
  });

  it('uploads a long recording in 5 MiB parts (multipart), reassembled exactly', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 've-store-s3-'));
    const parted = direct(s3.secretAccessKey, 5 * 2 ** 20);
    const bytes = randomBytes(11 * 2 ** 20 + 123);
    spool('t_b', 'c_long', bytes);
    await storeCallFiles(parted, dir, 't_b', 'c_long');
    const key = 'recordings/t_b/c_long.wav';
    expect(s3.objects.get(key)?.equals(bytes)).toBe(true);
    const mine = s3.requests.filter((r) => r.key === key);
    expect(mine.map((r) => `${r.method} ${r.status}`)).toEqual([
      'POST 200',
      'PUT 200',
      'PUT 200',
      'PUT 200',
      'POST 200',
    ]);
    expect(mine[0]!.query).toContain('uploads');
  });

  it('fails loudly with a wrong secret (the fake checks the signature) and keeps the spool file', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 've-store-s3-'));
    const wrong = direct('not-the-secret');
    const file = spool('t_c', 'c_denied', randomBytes(100));
    await expect(storeCallFiles(wrong, dir, 't_c', 'c_denied')).rejects.toThrow();
    expect(s3.requests.at(-1)?.status).toBe(403);
    expect(existsSync(file)).toBe(true);
  });
});

describe('FILE_STORAGE settings', () => {
  it('refuses what cannot work at start, with the variable to fix', () => {
    expect(() => createFileStorage({ FILE_STORAGE: 'ftp' }, '/d')).toThrow(/FILE_STORAGE must be 'local' or 's3'/);
    expect(() => createFileStorage({ FILE_STORAGE: 's3' }, '/d')).toThrow(/S3_BUCKET/);
    expect(() => createFileStorage({ FILE_STORAGE: 's3', S3_BUCKET: 'b', S3_ENDPOINT: 'minio:9000' }, '/d')).toThrow(
      /S3_ENDPOINT must be an http/,
    );
    expect(createFileStorage({ FILE_STORAGE: 's3', S3_BUCKET: 'b' }, '/d').kind).toBe('s3');
  });
});
