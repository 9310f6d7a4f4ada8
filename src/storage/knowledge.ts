import path from 'node:path';

/**
 * Where the knowledge base (LanceDB) lives: KNOWLEDGE_URI, a local directory (default DATA_DIR/lancedb) or an
 * object-store URI that every engine shares (`s3://bucket/prefix`, `gs://…`, `az://…`), passed to lancedb.connect
 * unchanged. For `s3://` the same settings as the call files' bucket apply, as LanceDB storage options:
 *   S3_ENDPOINT -> aws_endpoint (+ allow_http for http://, path-style unless S3_FORCE_PATH_STYLE=false),
 *   S3_REGION / AWS_REGION -> aws_region, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN.
 * Anything else LanceDB takes goes in KNOWLEDGE_STORAGE_OPTIONS as a JSON object of strings (e.g. {"timeout":"60s"}).
 */
export interface KnowledgeTarget {
  uri: string;
  storageOptions?: Record<string, string>;
}

const OBJECT_STORE = /^(s3|s3\+ddb|gs|az):\/\/[^/\s]+/;

export function knowledgeTarget(env: NodeJS.ProcessEnv, dataDir: string): KnowledgeTarget {
  const uri = env.KNOWLEDGE_URI?.trim() || path.join(dataDir, 'lancedb');
  const extra = parseOptions(env.KNOWLEDGE_STORAGE_OPTIONS);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri) && !OBJECT_STORE.test(uri)) {
    throw new Error(`KNOWLEDGE_URI must be a local path or s3:// gs:// az:// with a bucket, got '${uri}'`);
  }
  if (!uri.startsWith('s3')) return extra ? { uri, storageOptions: extra } : { uri };
  const o: Record<string, string> = {};
  const endpoint = env.S3_ENDPOINT?.trim();
  if (endpoint) {
    o.aws_endpoint = endpoint;
    if (endpoint.startsWith('http://')) o.allow_http = 'true';
    o.aws_virtual_hosted_style_request = env.S3_FORCE_PATH_STYLE?.trim() === 'false' ? 'true' : 'false';
  }
  const region = env.S3_REGION?.trim() || env.AWS_REGION?.trim();
  if (region) o.aws_region = region;
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    o.aws_access_key_id = env.AWS_ACCESS_KEY_ID;
    o.aws_secret_access_key = env.AWS_SECRET_ACCESS_KEY;
    if (env.AWS_SESSION_TOKEN) o.aws_session_token = env.AWS_SESSION_TOKEN;
  }
  return { uri, storageOptions: { ...o, ...extra } };
}

function parseOptions(raw: string | undefined): Record<string, string> | undefined {
  if (!raw?.trim()) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new Error('KNOWLEDGE_STORAGE_OPTIONS must be a JSON object of strings');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) {
    throw new Error('KNOWLEDGE_STORAGE_OPTIONS must be a JSON object of strings');
  }
  return v as Record<string, string>;
}
