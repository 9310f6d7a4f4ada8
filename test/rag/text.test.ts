import { describe, expect, it } from 'vitest';
import { rrfFuse } from '../../src/rag/fuse.js';
import { hashedEmbedding } from '../../src/rag/hashed-embedder.js';
import { contentTerms, ftsQueryText, stem } from '../../src/rag/text.js';

describe('query processing', () => {
  it('drops stopwords, keeps content words, and expands customer-service synonyms', () => {
    expect(ftsQueryText('When do you open?')).toBe('open hours close');
    expect(ftsQueryText('How much does shipping cost?').split(' ')).toEqual(
      expect.arrayContaining(['shipping', 'cost', 'price', 'delivery']),
    );
    expect(ftsQueryText('I want my money back')).toContain('refund');
    expect(ftsQueryText('hi, can you help me?')).toBe('help');
    expect(ftsQueryText('um, okay, so')).toBe('um');
  });

  it('stems plurals and -ing/-ed forms to meet their base word', () => {
    expect(stem('opening')).toBe(stem('open'));
    expect(stem('deliveries')).toBe(stem('delivery'));
    expect(stem('returned')).toBe(stem('return'));
    expect(stem('shipping')).toBe(stem('ship'));
    expect(contentTerms('What are your opening hours?')).toEqual([stem('opening'), stem('hours')]);
  });
});

describe('reciprocal-rank fusion', () => {
  it('ranks items high in both lists first and normalises the best possible score to 1', () => {
    const fused = rrfFuse(
      [
        ['a', 'b', 'c'],
        ['b', 'd', 'a'],
      ],
      (x) => x,
    );
    expect(fused.map((f) => f.item)).toEqual(['b', 'a', 'd', 'c']);
    expect(fused[0]!.score).toBeCloseTo((1 / 62 + 1 / 61) / (2 / 61), 12);
    expect(rrfFuse([['x'], ['x']], (x) => x)[0]!.score).toBe(1);
    // An item found by one list only scores at most half.
    expect(fused.find((f) => f.item === 'd')!.score).toBeLessThan(0.5);
  });
});

describe('hashed embedder', () => {
  it('is deterministic, unit length, and puts related wording closer than unrelated', () => {
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
    const a = hashedEmbedding('When are you open on Saturday?', 128);
    const b = hashedEmbedding('Opening hours: Saturday 10 am to 5 pm', 128);
    const c = hashedEmbedding('Kayak rental with paddles and life jackets', 128);
    expect(hashedEmbedding('When are you open on Saturday?', 128)).toEqual(a);
    expect(dot(a, a)).toBeCloseTo(1, 5);
    expect(dot(a, b)).toBeGreaterThan(dot(a, c) + 0.2);
  });
});
