import { describe, expect, it } from 'vitest';
import { RulesLlm } from '../../src/providers/llm/rules.js';
import type { ChatMessage, KnowledgeHit, LlmEvent, LlmRequest } from '../../src/providers/types.js';

async function run(llm: RulesLlm, req: LlmRequest): Promise<{ text: string; deltas: number; events: LlmEvent[] }> {
  const events: LlmEvent[] = [];
  for await (const e of llm.stream(req, new AbortController().signal)) events.push(e);
  const deltas = events.filter((e) => e.type === 'text');
  return { text: deltas.map((e) => (e.type === 'text' ? e.delta : '')).join(''), deltas: deltas.length, events };
}
const user = (content: string): ChatMessage[] => [
  { role: 'system', content: 'You book tables.' },
  { role: 'user', content },
];

const llm = new RulesLlm({
  rules: [
    { dtmf: '1', reply: 'Sales, one moment.', tool: 'transfer_call', toolArgs: { target: 'sales' } },
    { keywords: ['opening hours', 'open'], reply: 'We open at nine.' },
    { regex: 'table for (?<people>\\d+)', reply: 'A table for $1, booking it now.', tool: 'book_table' },
    { regex: '([' }, // invalid pattern: never matches, never throws
  ],
  fallbackReply: 'Could you say that another way?',
});

describe('rules agent (deterministic, not a language model)', () => {
  it('keyword rule: reply streamed word by word, then usage and done', async () => {
    const r = await run(llm, { messages: user('When do you OPEN tomorrow?') });
    expect(r.text).toBe('We open at nine.');
    expect(r.deltas).toBe(4);
    expect(r.events.at(-1)).toEqual({ type: 'done', finishReason: 'stop' });
    expect(r.events.find((e) => e.type === 'usage')).toMatchObject({ completionTokens: 4 });
  });

  it('regex rule: groups fill the reply and named groups the tool arguments', async () => {
    const r = await run(llm, { messages: user('I need a table for 4 tonight') });
    expect(r.text).toBe('A table for 4, booking it now.');
    const call = r.events.find((e) => e.type === 'tool_call');
    expect(call?.type === 'tool_call' && call.call.name).toBe('book_table');
    expect(call?.type === 'tool_call' && JSON.parse(call.call.arguments)).toEqual({ people: '4' });
  });

  it('DTMF rule matches `DTMF: 1` only, and keywords never match DTMF input', async () => {
    const r = await run(llm, { messages: user('DTMF: 1') });
    expect(r.text).toBe('Sales, one moment.');
    const call = r.events.find((e) => e.type === 'tool_call');
    expect(call?.type === 'tool_call' && JSON.parse(call.call.arguments)).toEqual({ target: 'sales', digits: '1' });
    expect((await run(llm, { messages: user('DTMF: 9') })).text).toBe('Could you say that another way?');
  });

  it('a tool result is acknowledged from its say / message field, else "Done."', async () => {
    const base = user('table for 2');
    const withTool = (content: string): ChatMessage[] => [
      ...base,
      { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'book_table', arguments: '{}' }] },
      { role: 'tool', toolCallId: 'c1', name: 'book_table', content },
    ];
    expect((await run(llm, { messages: withTool('{"say":"Booked for 8 pm."}') })).text).toBe('Booked for 8 pm.');
    expect((await run(llm, { messages: withTool('{"ok":true}') })).text).toBe('Done.');
  });

  it('no rule: answers from the knowledge base when a hit scores, else asks to rephrase', async () => {
    const kb = async (q: string): Promise<KnowledgeHit[]> =>
      q.includes('parking')
        ? [{ text: 'Parking is free behind the building. It has 40 spaces. Vans use the side lot.', score: 0.8 }]
        : [];
    const strict = new RulesLlm({ minKnowledgeScore: 0.5 });
    expect((await run(strict, { messages: user('is there parking?'), knowledge: kb })).text).toBe(
      'Parking is free behind the building. It has 40 spaces.',
    );
    expect((await run(strict, { messages: user('do you have wifi?'), knowledge: kb })).text).toBe(
      "Sorry, I didn't catch that. Could you say it another way?",
    );
    const picky = new RulesLlm({ minKnowledgeScore: 0.9, fallbackReply: 'Pardon?' });
    expect((await run(picky, { messages: user('is there parking?'), knowledge: kb })).text).toBe('Pardon?');
  });

  it('jsonSchema: a deterministic object whose types match the schema', async () => {
    const schema = {
      type: 'object',
      properties: {
        name: { type: 'string' },
        email: { type: 'string', format: 'email' },
        phone: { type: 'string' },
        people: { type: 'integer' },
        confirmed: { type: 'boolean' },
        day: { type: 'string', enum: ['monday', 'friday'] },
        notes: { type: 'array' },
      },
    };
    const messages: ChatMessage[] = [
      { role: 'user', content: 'Hi, my name is Ana Lopez, table for 3 on friday' },
      { role: 'assistant', content: 'Sure, your email?' },
      { role: 'user', content: 'ana@example.com and my number is 555-123-4567, yes please' },
    ];
    const a = await run(llm, { messages, jsonSchema: schema });
    const b = await run(llm, { messages, jsonSchema: schema });
    expect(a.text).toBe(b.text);
    expect(JSON.parse(a.text)).toEqual({
      name: 'Ana Lopez',
      email: 'ana@example.com',
      phone: '5551234567',
      people: 3,
      confirmed: true,
      day: 'friday',
      notes: [],
    });
  });

  it('abort before start throws an aborted error', async () => {
    const ctrl = new AbortController();
    ctrl.abort();
    const err = await (async () => {
      for await (const _ of llm.stream({ messages: user('open?') }, ctrl.signal)) void _;
    })().catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('aborted');
  });
});
