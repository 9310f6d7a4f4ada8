import { open, rm, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { FileStorage } from './types.js';

/**
 * S3-compatible object storage (AWS S3, MinIO, Ceph RGW, R2...) through AWS SDK v3. Every engine writes and reads the
 * same bucket, so any engine serves any call's recording. Objects go under `prefix` + the key.
 *
 * Uploads read the finished spool file in parts of `partBytes` (8 MiB): one PutObject when the file fits in one
 * part, else a multipart upload (CreateMultipartUpload, UploadPart per part, CompleteMultipartUpload; aborted on
 * failure), so memory stays at one part whatever the call's length. Checksums only where the API requires them
 * (`requestChecksumCalculation: 'WHEN_REQUIRED'`): S3-compatible servers differ on the newer flexible checksums.
 */
export interface S3StorageOptions {
  bucket: string;
  /** https://s3.eu-west-1.amazonaws.com, http://minio:9000...; default: AWS for `region`. */
  endpoint?: string;
  region: string;
  /** Path-style URLs (`endpoint/bucket/key`): what MinIO-likes need. */
  forcePathStyle: boolean;
  prefix: string;
  /** Default: the SDK's chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  partBytes?: number;
}

const MIN_PART = 5 * 2 ** 20; // S3's smallest part but the last

export function createS3Storage(opts: S3StorageOptions): FileStorage {
  const client = new S3Client({
    region: opts.region,
    forcePathStyle: opts.forcePathStyle,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
  });
  const Bucket = opts.bucket;
  const partBytes = Math.max(MIN_PART, opts.partBytes ?? 8 * 2 ** 20);
  const keyOf = (key: string) => `${opts.prefix}${key}`;
  const missing = (err: unknown) => {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
  };

  async function upload(Key: string, file: string, ContentType: string): Promise<void> {
    const size = (await stat(file)).size;
    const fh = await open(file, 'r');
    try {
      const read = async (at: number, n: number) => {
        const buf = Buffer.allocUnsafe(n);
        const { bytesRead } = await fh.read(buf, 0, n, at);
        return buf.subarray(0, bytesRead);
      };
      if (size <= partBytes) {
        await client.send(new PutObjectCommand({ Bucket, Key, ContentType, Body: await read(0, size) }));
        return;
      }
      const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType }));
      try {
        const Parts: { ETag: string; PartNumber: number }[] = [];
        for (let at = 0, PartNumber = 1; at < size; at += partBytes, PartNumber++) {
          const Body = await read(at, Math.min(partBytes, size - at));
          const { ETag } = await client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body }));
          Parts.push({ ETag: ETag ?? '', PartNumber });
        }
        await client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }));
      } catch (err) {
        await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => {});
        throw err;
      }
    } finally {
      await fh.close();
    }
  }

  return {
    kind: 's3',
    async putFile(key, file, contentType) {
      await upload(keyOf(key), file, contentType);
      // Stored in the bucket: the engine's disk holds nothing a restart or another engine would need.
      await rm(file, { force: true });
    },
    async get(key) {
      try {
        const r = await client.send(new GetObjectCommand({ Bucket, Key: keyOf(key) }));
        if (!r.Body) return undefined;
        return { body: r.Body as Readable, size: r.ContentLength ?? 0 };
      } catch (err) {
        if (missing(err)) return undefined;
        throw err;
      }
    },
    async head(key) {
      try {
        const r = await client.send(new HeadObjectCommand({ Bucket, Key: keyOf(key) }));
        return r.ContentLength ?? 0;
      } catch (err) {
        if (missing(err)) return undefined;
        throw err;
      }
    },
    async delete(key) {
      await client.send(new DeleteObjectCommand({ Bucket, Key: keyOf(key) }));
    },
  };
}
