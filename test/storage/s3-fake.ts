import { createHash, createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small, strict S3 on 127.0.0.1:0 speaking the REST protocol path-style (`/<bucket>/<key>`), as MinIO does:
 * PutObject, GetObject, HeadObject, DeleteObject, and multipart upload (CreateMultipartUpload `POST ?uploads`,
 * UploadPart `PUT ?partNumber&uploadId`, CompleteMultipartUpload `POST ?uploadId`, AbortMultipartUpload
 * `DELETE ?uploadId`). Every request must carry a valid AWS Signature Version 4 (Authorization header,
 * x-amz-date, x-amz-content-sha256 matching the body when it is a hash), checked by recomputing the signature with
 * the one known secret: a wrong key, a tampered header or body is answered 403 SignatureDoesNotMatch.
 */
export interface S3Fake {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  objects: Map<string, Buffer>;
  requests: Array<{ method: string; key: string; query: string; status: number }>;
  close(): Promise<void>;
}

const hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const hmac = (k: Buffer | string, s: string) => createHmac('sha256', k).update(s).digest();

function xmlError(res: http.ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`);
}

/** SigV4 (docs.aws.amazon.com, "Create a signed AWS API request"): the canonical request, string to sign, key. */
function signatureOk(req: http.IncomingMessage, body: Buffer, accessKeyId: string, secret: string): string | null {
  const auth = req.headers.authorization ?? '';
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
      auth,
    );
  if (!m) return 'no SigV4 Authorization header';
  const [, key, date, region, signedHeaders, signature] = m as unknown as string[];
  if (key !== accessKeyId) return 'unknown access key';
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const payload = String(req.headers['x-amz-content-sha256'] ?? '');
  if (!amzDate.startsWith(date!)) return 'x-amz-date missing or not the credential date';
  if (!payload) return 'x-amz-content-sha256 missing';
  if (/^[0-9a-f]{64}$/.test(payload) && payload !== hex(body)) return 'body does not match x-amz-content-sha256';
  if (!/^[0-9a-f]{64}$/.test(payload) && payload !== 'UNSIGNED-PAYLOAD') return `unsupported payload mode ${payload}`;
  const names = signedHeaders!.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) return 'host and x-amz-date must be signed';
  const url = new URL(req.url ?? '/', 'http://x');
  const query = url.search
    .slice(1)
    .split('&')
    .filter(Boolean)
    .map((p) => (p.includes('=') ? p : `${p}=`))
    .sort()
    .join('&');
  const headers = names
    .map(
      (n) =>
        `${n}:${String(req.headers[n] ?? '')
          .trim()
          .replace(/\s+/g, ' ')}\n`,
    )
    .join('');
  const canonical = [req.method, url.pathname, query, headers, signedHeaders, payload].join('\n');
  const scope = `${date}/${region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, hex(canonical)].join('\n');
  const kSigning = hmac(hmac(hmac(hmac(`AWS4${secret}`, date!), region!), 's3'), 'aws4_request');
  return hmac(kSigning, toSign).toString('hex') === signature ? null : 'signature does not match';
}

export async function startS3Fake(bucket = 'calls'): Promise<S3Fake> {
  const accessKeyId = 'AKIAFAKE0000000000001';
  const secretAccessKey = randomBytes(20).toString('base64');
  const objects = new Map<string, Buffer>();
  const uploads = new Map<string, { key: string; parts: Map<number, Buffer> }>();
  const requests: S3Fake['requests'] = [];
  const etag = (b: Buffer) => `"${createHash('md5').update(b).digest('hex')}"`;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://x');
      const [, b, ...rest] = url.pathname.split('/');
      const key = decodeURIComponent(rest.join('/'));
      const q = url.searchParams;
      const done = (status: number) => requests.push({ method: req.method ?? '', key, query: url.search, status });
      const bad = signatureOk(req, body, accessKeyId, secretAccessKey);
      if (bad) {
        done(403);
        return xmlError(res, 403, 'SignatureDoesNotMatch', bad);
      }
      if (b !== bucket) {
        done(404);
        return xmlError(res, 404, 'NoSuchBucket', 'The specified bucket does not exist');
      }
      if (!key) {
        done(400);
        return xmlError(res, 400, 'InvalidRequest', 'An object key is required');
      }
      const obj = objects.get(key);
      if (req.method === 'POST' && q.has('uploads')) {
        const id = randomBytes(8).toString('hex');
        uploads.set(id, { key, parts: new Map() });
        done(200);
        res.writeHead(200, { 'content-type': 'application/xml' });
        return res.end(
          `<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${key}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`,
        );
      }
      const upload = q.has('uploadId') ? uploads.get(q.get('uploadId')!) : undefined;
      if (q.has('uploadId') && (!upload || upload.key !== key)) {
        done(404);
        return xmlError(res, 404, 'NoSuchUpload', 'The specified upload does not exist');
      }
      if (req.method === 'PUT' && upload) {
        const n = Number(q.get('partNumber'));
        if (!Number.isInteger(n) || n < 1 || n > 10_000) {
          done(400);
          return xmlError(res, 400, 'InvalidArgument', 'partNumber must be 1..10000');
        }
        upload.parts.set(n, body);
        done(200);
        res.writeHead(200, { etag: etag(body) });
        return res.end();
      }
      if (req.method === 'POST' && upload) {
        const listed = [
          ...body
            .toString()
            .matchAll(
              /<PartNumber>(\d+)<\/PartNumber>\s*<ETag>([^<]+)<\/ETag>|<ETag>([^<]+)<\/ETag>\s*<PartNumber>(\d+)<\/PartNumber>/g,
            ),
        ].map((m) => ({ n: Number(m[1] ?? m[4]), etag: (m[2] ?? m[3])!.replace(/&quot;/g, '"') }));
        const ordered = listed.every((p, i) => i === 0 || p.n > listed[i - 1]!.n);
        const parts = listed.map((p) => upload.parts.get(p.n));
        const valid = listed.every((p, i) => parts[i] && etag(parts[i]!) === p.etag);
        // Every part but the last must be at least 5 MiB (S3's rule).
        const sized = parts.every((p, i) => i === parts.length - 1 || (p?.length ?? 0) >= 5 * 2 ** 20);
        if (listed.length === 0 || !ordered || !valid || !sized) {
          done(400);
          return xmlError(res, 400, 'InvalidPart', 'Parts missing, out of order, too small or with a wrong ETag');
        }
        const whole = Buffer.concat(parts as Buffer[]);
        objects.set(key, whole);
        uploads.delete(q.get('uploadId')!);
        done(200);
        res.writeHead(200, { 'content-type': 'application/xml' });
        return res.end(
          `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${key}</Key><ETag>${etag(whole)}</ETag></CompleteMultipartUploadResult>`,
        );
      }
      if (req.method === 'DELETE' && upload) {
        uploads.delete(q.get('uploadId')!);
        done(204);
        res.writeHead(204);
        return res.end();
      }
      switch (req.method) {
        case 'PUT':
          objects.set(key, body);
          done(200);
          res.writeHead(200, { etag: etag(body) });
          return res.end();
        case 'GET':
        case 'HEAD':
          if (!obj) {
            done(404);
            if (req.method === 'HEAD') {
              res.writeHead(404);
              return res.end();
            }
            return xmlError(res, 404, 'NoSuchKey', 'The specified key does not exist.');
          }
          done(200);
          res.writeHead(200, { 'content-length': String(obj.length), etag: etag(obj) });
          return res.end(req.method === 'GET' ? obj : undefined);
        case 'DELETE':
          objects.delete(key);
          done(204);
          res.writeHead(204);
          return res.end();
        default:
          done(405);
          return xmlError(res, 405, 'MethodNotAllowed', `${req.method} is not allowed`);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bucket,
    accessKeyId,
    secretAccessKey,
    objects,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
