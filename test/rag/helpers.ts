import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseCsv } from '../../src/rag/csv.js';

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rag-test-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export const fixture = (name: string): Buffer => readFileSync(new URL(`../../fixtures/rag/${name}`, import.meta.url));

export interface LabelledQuestion {
  q: string;
  id: string;
}

/** The FAQ fixture and its paraphrased questions; FAQ ids in row order (chunk i of faq.csv is row i). */
export function faqFixture(): { csv: string; ids: string[]; questions: LabelledQuestion[] } {
  const csv = fixture('faq.csv').toString('utf8');
  const rows = parseCsv(csv)!;
  const idCol = rows[0]!.fields.indexOf('id');
  const ids = rows.slice(1).map((r) => r.fields[idCol]!);
  const questions = (JSON.parse(fixture('questions.json').toString('utf8')) as { questions: LabelledQuestion[] })
    .questions;
  return { csv, ids, questions };
}
