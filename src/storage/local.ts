import { createReadStream } from 'node:fs';
import { copyFile, mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { FileStorage } from './types.js';

/**
 * The default: files stay under DATA_DIR, where the recorder spooled them (`putFile` of the spool file onto its own
 * key is a no-op). A key never leaves the root (checked after resolving, so `..` in a key cannot escape).
 */
export function createLocalStorage(root: string): FileStorage {
  const base = path.resolve(root);
  const fileOf = (key: string): string => {
    const file = path.resolve(base, key);
    if (!file.startsWith(base + path.sep)) throw new Error(`storage key outside the data directory: ${key}`);
    return file;
  };
  return {
    kind: 'local',
    async putFile(key, file) {
      const dest = fileOf(key);
      if (path.resolve(file) === dest) return;
      await mkdir(path.dirname(dest), { recursive: true });
      await copyFile(file, dest);
    },
    async get(key) {
      const file = fileOf(key);
      const st = await stat(file).catch(() => undefined);
      if (!st?.isFile()) return undefined;
      return { body: createReadStream(file), size: st.size };
    },
    async head(key) {
      const st = await stat(fileOf(key)).catch(() => undefined);
      return st?.isFile() ? st.size : undefined;
    },
    async delete(key) {
      await rm(fileOf(key), { force: true });
    },
  };
}
