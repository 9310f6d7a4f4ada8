import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EngineError } from '../../src/errors.js';
import { detectFormat, parseDocument } from '../../src/rag/parse.js';
import { makePdf } from './pdf-fixture.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/rag/${name}`, import.meta.url));

async function rejects(p: Promise<unknown>, code: string): Promise<EngineError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(EngineError);
  expect((err as EngineError).code).toBe(code);
  return err as EngineError;
}

describe('detectFormat', () => {
  it('prefers the MIME type, then the extension, then sniffs', () => {
    expect(detectFormat({ content: 'x', mime: 'text/markdown; charset=utf-8' })).toBe('markdown');
    expect(detectFormat({ content: 'x', mime: 'application/octet-stream', name: 'a.CSV' })).toBe('csv');
    expect(detectFormat({ content: '%PDF-1.4 ...' })).toBe('pdf');
    expect(detectFormat({ content: '  <!DOCTYPE html><p>x' })).toBe('html');
    expect(detectFormat({ content: '[{"a":1}]' })).toBe('json');
    expect(detectFormat({ content: 'plain words' })).toBe('text');
  });
  it('rejects types it cannot read with UNSUPPORTED_MEDIA_TYPE', () => {
    expect(() => detectFormat({ content: 'x', mime: 'image/png' })).toThrow(EngineError);
    expect(() => detectFormat({ content: 'x', name: 'slides.pptx' })).toThrow(/Unsupported document extension/);
  });
});

describe('parseDocument', () => {
  it('Markdown: ATX headings with levels, paragraphs, fenced code kept whole, offsets into the source', async () => {
    const src = fixture('policies.md').toString('utf8');
    const doc = await parseDocument({ content: src, name: 'policies.md' });
    expect(doc.mime).toBe('text/markdown');
    const headings = doc.blocks.filter((b) => b.kind === 'heading').map((b) => `${b.level}:${b.text}`);
    expect(headings).toEqual([
      '1:Bluefin Outdoor Supply policies',
      '2:Returns',
      '2:Rentals',
      '3:Bikes',
      '3:Kayaks',
      '2:Privacy',
    ]);
    for (const b of doc.blocks.filter((x) => x.kind === 'paragraph')) expect(src.slice(b.start, b.end)).toBe(b.text);
    expect(doc.blocks.some((b) => b.text.startsWith('```') && b.text.includes('Deposit: 200 dollars'))).toBe(true);
  });

  it('HTML: drops script, style, comments and nav markup, decodes entities, keeps headings', async () => {
    const doc = await parseDocument({ content: fixture('store.html'), mime: 'text/html' });
    expect(doc.text).not.toMatch(/analytics|font-family|summer sale|Home Shop|<\w/);
    expect(doc.text).toContain('Monday–Friday: 9 am – 7 pm');
    expect(doc.text).toContain('behind the building & there are two EV chargers');
    expect(doc.blocks.filter((b) => b.kind === 'heading').map((b) => b.text)).toEqual([
      'Visit our store',
      'Opening hours',
      'Getting here',
    ]);
    for (const b of doc.blocks) expect(doc.text.slice(b.start, b.end)).toBe(b.text);
  });

  it('CSV FAQ: one qa block per row with its id and the row span in the source', async () => {
    const src = fixture('faq.csv').toString('utf8');
    const doc = await parseDocument({ content: src, name: 'faq.csv' });
    expect(doc.blocks).toHaveLength(56);
    expect(doc.blocks.every((b) => b.kind === 'qa')).toBe(true);
    const first = doc.blocks[0]!;
    expect(first.label).toBe('hours');
    expect(first.text).toMatch(/^Q: What are your opening hours\?\nA: Our store at 14 Harbor Road/);
    expect(src.slice(first.start, first.end)).toMatch(/^hours,What are your opening hours\?,"Our store/);
  });

  it('CSV without question/answer columns: one record per row', async () => {
    const doc = await parseDocument({
      content: 'sku,name,price\nA1,"Tent, 2 person",199\nB2,"Stove ""Mini""",49\n',
      mime: 'text/csv',
    });
    expect(doc.blocks.map((b) => b.text)).toEqual([
      'sku: A1\nname: Tent, 2 person\nprice: 199',
      'sku: B2\nname: Stove "Mini"\nprice: 49',
    ]);
  });

  it('JSON: FAQ arrays become pairs, everything else path: value records', async () => {
    const doc = await parseDocument({ content: fixture('services.json'), name: 'services.json' });
    const qa = doc.blocks.filter((b) => b.kind === 'qa');
    expect(qa.map((b) => b.label)).toEqual(['j1', 'j2']);
    const workshop = doc.blocks.find((b) => b.label === 'workshop')!;
    expect(workshop.text).toContain('workshop.tune_up.price_usd: 59');
    expect(workshop.text).toContain('workshop.brands[1]: snowboards');
  });

  it('plain text: paragraphs between blank lines', async () => {
    const doc = await parseDocument({ content: fixture('about.txt'), name: 'about.txt' });
    expect(doc.blocks.map((b) => b.text.split(/\s+/).slice(0, 3).join(' '))).toEqual([
      'About Bluefin Outdoor',
      'Bluefin Outdoor Supply',
      'Today we employ',
      'We give 1',
    ]);
  });

  it('PDF: text of every page, in order', async () => {
    const pdf = makePdf([
      ['Warranty terms', 'Bluefin gear has a lifetime warranty.'],
      ['Page two talks about kayak paddles.'],
    ]);
    const doc = await parseDocument({ content: pdf, name: 'terms.pdf' });
    expect(doc.mime).toBe('application/pdf');
    expect(doc.text).toMatch(/Warranty terms[\s\S]*lifetime warranty[\s\S]*kayak paddles/);
  });

  it('malformed input is VALIDATION_FAILED with a clear message', async () => {
    await rejects(parseDocument({ content: '{"a": ', mime: 'application/json' }), 'VALIDATION_FAILED');
    expect(
      (await rejects(parseDocument({ content: 'question,answer\n"open,quote', mime: 'text/csv' }), 'VALIDATION_FAILED'))
        .message,
    ).toMatch(/never closed/);
    await rejects(parseDocument({ content: 'question,answer\na,b,c\n', mime: 'text/csv' }), 'VALIDATION_FAILED');
    await rejects(
      parseDocument({ content: new Uint8Array([0xff, 0xfe, 0x00, 0x41]), mime: 'text/plain' }),
      'VALIDATION_FAILED',
    );
    await rejects(parseDocument({ content: '%PDF-1.4\nthis is not a pdf', name: 'x.pdf' }), 'VALIDATION_FAILED');
    await rejects(parseDocument({ content: 'hello', mime: 'application/pdf' }), 'VALIDATION_FAILED');
    await rejects(parseDocument({ content: '   \n\n ', mime: 'text/plain' }), 'VALIDATION_FAILED');
    await rejects(parseDocument({ content: 'x', mime: 'image/png' }), 'UNSUPPORTED_MEDIA_TYPE');
  });
});
