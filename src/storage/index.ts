import { createLocalStorage } from './local.js';
import { createS3Storage } from './s3.js';
import type { FileStorage } from './types.js';

export type { FileStorage, StoredObject } from './types.js';

/**
 * The file storage the environment asks for (README, "Running many engines"):
 *   FILE_STORAGE=local (default)  files under DATA_DIR
 *   FILE_STORAGE=s3               S3_BUCKET (required), S3_ENDPOINT (MinIO-likes; AWS when unset), S3_REGION
 *                                 (us-east-1), S3_FORCE_PATH_STYLE (true when S3_ENDPOINT is set), S3_PREFIX,
 *                                 credentials AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the SDK's chain)
 * A wrong setting is an error at start, not at the end of the first call.
 */
export function createFileStorage(env: NodeJS.ProcessEnv, dataDir: string): FileStorage {
  const kind = (env.FILE_STORAGE ?? 'local').trim() || 'local';
  if (kind === 'local') return createLocalStorage(dataDir);
  if (kind !== 's3') throw new Error(`FILE_STORAGE must be 'local' or 's3', got '${kind}'`);
  const bucket = env.S3_BUCKET?.trim();
  if (!bucket) throw new Error('FILE_STORAGE=s3 needs S3_BUCKET');
  const endpoint = env.S3_ENDPOINT?.trim() || undefined;
  if (endpoint && !/^https?:\/\//.test(endpoint)) throw new Error(`S3_ENDPOINT must be an http(s) URL: ${endpoint}`);
  const pathStyle = env.S3_FORCE_PATH_STYLE?.trim();
  const prefix = (env.S3_PREFIX ?? '').trim().replace(/^\/+/, '');
  const { AWS_ACCESS_KEY_ID: id, AWS_SECRET_ACCESS_KEY: secret, AWS_SESSION_TOKEN: token } = env;
  return createS3Storage({
    bucket,
    region: env.S3_REGION?.trim() || env.AWS_REGION?.trim() || 'us-east-1',
    forcePathStyle: pathStyle ? pathStyle === 'true' || pathStyle === '1' : endpoint !== undefined,
    prefix: prefix && !prefix.endsWith('/') ? `${prefix}/` : prefix,
    ...(endpoint ? { endpoint } : {}),
    ...(id && secret
      ? { credentials: { accessKeyId: id, secretAccessKey: secret, ...(token ? { sessionToken: token } : {}) } }
      : {}),
  });
}
