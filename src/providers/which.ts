/** Finds an executable on PATH without spawning a shell (cached per name: called at provider open, not per frame). */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';

const cache = new Map<string, Promise<string | undefined>>();

export function which(name: string): Promise<string | undefined> {
  let hit = cache.get(name);
  if (!hit) {
    hit = (async () => {
      for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
        if (!dir) continue;
        const file = path.join(dir, name);
        try {
          await access(file, constants.X_OK);
          return file;
        } catch {
          // not here
        }
      }
      return undefined;
    })();
    cache.set(name, hit);
  }
  return hit;
}
