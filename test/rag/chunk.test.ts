import { describe, expect, it } from 'vitest';
import type { Block } from '../../src/rag/blocks.js';
import { chunkBlocks } from '../../src/rag/chunk.js';
import { parseDocument } from '../../src/rag/parse.js';

const sentence = (i: number) => `Sentence number ${i} says something about tents and stoves.`;

describe('chunkBlocks', () => {
  it('starts a chunk at every heading and names its section with the heading path', async () => {
    const md =
      '# Guide\n\nIntro text.\n\n## Returns\n\nReturn within 30 days.\n\n### Sale items\n\nWithin 14 days.\n\n## Rentals\n\nBikes by the day.\n';
    const doc = await parseDocument({ content: md, mime: 'text/markdown' });
    const chunks = chunkBlocks(doc.blocks);
    expect(chunks.map((c) => c.section)).toEqual([
      'Guide',
      'Guide > Returns',
      'Guide > Returns > Sale items',
      'Guide > Rentals',
    ]);
    expect(chunks[1]!.text).toBe('Returns\n\nReturn within 30 days.');
    expect(md.slice(chunks[2]!.start, chunks[2]!.end)).toBe('### Sale items\n\nWithin 14 days.');
    expect(chunks.map((c) => c.index)).toEqual([0, 1, 2, 3]);
  });

  it('folds a heading followed directly by a deeper one into the section path, not a chunk of its own', async () => {
    const md = '## Rentals\n\n### Bikes\n\nBy the day.\n\n### Kayaks\n\nBy the hour.\n\n## Empty\n\n## Last\n\nEnd.\n';
    const chunks = chunkBlocks((await parseDocument({ content: md, mime: 'text/markdown' })).blocks);
    expect(chunks.map((c) => [c.section, c.text])).toEqual([
      ['Rentals > Bikes', 'Bikes\n\nBy the day.'],
      ['Rentals > Kayaks', 'Kayaks\n\nBy the hour.'],
      ['Empty', 'Empty'],
      ['Last', 'Last\n\nEnd.'],
    ]);
  });

  it('packs paragraphs up to maxChars and carries an overlap into the next chunk of the section', () => {
    const text = Array.from({ length: 12 }, (_, i) => sentence(i)).join('\n\n');
    const doc = {
      blocks: text
        .split('\n\n')
        .map((t) => ({ kind: 'paragraph', text: t, start: text.indexOf(t), end: text.indexOf(t) + t.length }) as Block),
    };
    const chunks = chunkBlocks(doc.blocks, { maxChars: 200, overlapChars: 60 });
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) expect(c.text.length).toBeLessThanOrEqual(200);
    for (let i = 1; i < chunks.length; i++) {
      // The next chunk begins inside the previous one (overlap), at a sentence/word boundary.
      expect(chunks[i]!.start).toBeLessThan(chunks[i - 1]!.end);
      expect(chunks[i]!.start).toBeGreaterThan(chunks[i - 1]!.start);
      expect(text.slice(chunks[i]!.start, chunks[i]!.start + 8)).toBe(chunks[i]!.text.slice(0, 8));
    }
    // Every sentence is in some chunk whole.
    for (let i = 0; i < 12; i++) expect(chunks.some((c) => c.text.includes(sentence(i)))).toBe(true);
  });

  it('cuts a paragraph longer than maxChars at sentence ends, with overlapping pieces whose offsets match the source', () => {
    const para = Array.from({ length: 30 }, (_, i) => sentence(i)).join(' ');
    const chunks = chunkBlocks([{ kind: 'paragraph', text: para, start: 0, end: para.length }], {
      maxChars: 300,
      overlapChars: 80,
    });
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) {
      expect(c.text.length).toBeLessThanOrEqual(300);
      expect(para.slice(c.start, c.end)).toBe(c.text);
    }
    for (let i = 0; i < chunks.length - 1; i++) expect(chunks[i]!.text.endsWith('.')).toBe(true);
    for (let i = 1; i < chunks.length; i++) expect(chunks[i]!.start).toBeLessThan(chunks[i - 1]!.end);
    expect(chunks[chunks.length - 1]!.end).toBe(para.length);
  });

  it('keeps each FAQ pair in a chunk of its own, never merged with its neighbours', async () => {
    const csv = 'id,question,answer\nq1,Short?,Yes.\nq2,Also short?,No.\nq3,Third?,Maybe.\n';
    const doc = await parseDocument({ content: csv, mime: 'text/csv' });
    const chunks = chunkBlocks(doc.blocks, { maxChars: 1000 });
    expect(chunks.map((c) => [c.section, c.text])).toEqual([
      ['q1', 'Q: Short?\nA: Yes.'],
      ['q2', 'Q: Also short?\nA: No.'],
      ['q3', 'Q: Third?\nA: Maybe.'],
    ]);
    expect(csv.slice(chunks[1]!.start, chunks[1]!.end)).toBe('q2,Also short?,No.');
  });
});
