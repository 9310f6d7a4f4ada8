/**
 * Light text analysis shared by query processing, the per-call cache and the hashed embedder: lowercase word
 * tokens, an English stopword list (wider than LanceDB's built-in one, which keeps "does", "much", "many"), a small
 * suffix-stripping stemmer, and a handful of customer-service synonym groups so that a caller's words ("how much",
 * "money back") reach the words documents use ("price", "refund"). LanceDB's FTS index applies its own Snowball
 * stemmer to both the indexed text and the query we send, so the query carries surface words, not stems.
 */

const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}]+)?/gu;

export const STOPWORDS: ReadonlySet<string> = new Set(
  (
    'a about above after again against all am an and any are aren as at be because been before being below between ' +
    'both but by can cannot could couldn did didn do does doesn doing don down during each few for from further get ' +
    'got had has have having he her here hers herself him himself his how i if in into is isn it its itself just let ' +
    'like me more most much many my myself need no nor not now of off on once only or other ought our ours ourselves ' +
    'out over own please same she should so some such tell than that the their theirs them themselves then there ' +
    'these they this those through to too under until up us very want was we were what when where which while who ' +
    'whom why will with would you your yours yourself yourselves hi hello hey thanks thank ok okay know could ' +
    "i'm i'd i've you're you've we're we've it's that's what's there's can't don't doesn't won't isn't aren't"
  ).split(' '),
);

/** Lowercase word tokens with their source offsets (UTF-16 code units). */
export function words(text: string): string[] {
  const out: string[] = [];
  for (const m of text.toLowerCase().matchAll(WORD)) out.push(m[0].replace('’', "'"));
  return out;
}

/**
 * A small suffix stripper in the spirit of Porter step 1 (plurals, -ed, -ing, -ly): enough to make "opening" and
 * "open", "deliveries" and "delivery" meet. Not a full Porter stemmer; LanceDB's Snowball stemmer does the real
 * work inside the FTS index.
 */
export function stem(word: string): string {
  let w = word;
  if (w.length <= 3) return w;
  if (w.endsWith("'s")) w = w.slice(0, -2);
  if (w.endsWith('ies') && w.length > 4) w = `${w.slice(0, -3)}y`;
  else if (w.endsWith('sses')) w = w.slice(0, -2);
  else if (w.endsWith('s') && !w.endsWith('ss') && !w.endsWith('us') && w.length > 3) w = w.slice(0, -1);
  if (w.endsWith('ing') && w.length > 5) w = undouble(w.slice(0, -3));
  else if (w.endsWith('ed') && w.length > 4) w = undouble(w.slice(0, -2));
  if (w.endsWith('ly') && w.length > 4) w = w.slice(0, -2);
  if (w.endsWith('y') && w.length > 3) w = `${w.slice(0, -1)}i`;
  if (w.endsWith('e') && w.length > 4) w = w.slice(0, -1);
  return w;
}

function undouble(w: string): string {
  const n = w.length;
  if (n > 2 && w[n - 1] === w[n - 2] && !'lsz'.includes(w[n - 1]!)) return w.slice(0, -1);
  return w;
}

/** Content terms: words minus stopwords, stemmed. Used for cache matching and embeddings. */
export function contentTerms(text: string): string[] {
  const out: string[] = [];
  for (const w of words(text)) if (!STOPWORDS.has(w)) out.push(stem(w));
  return out;
}

/**
 * Synonym groups (surface words). A query word in a group adds the group's other words to the FTS query; BM25 then
 * ranks chunks that use any of them. Kept small and generic on purpose: broad groups dilute ranking.
 */
const SYNONYM_GROUPS: readonly (readonly string[])[] = [
  ['price', 'cost', 'fee', 'charge', 'pay'],
  ['refund', 'return', 'reimburse'],
  ['ship', 'shipping', 'delivery', 'deliver'],
  ['open', 'hours', 'close'],
  ['cancel', 'cancellation'],
  ['buy', 'purchase', 'order'],
  ['phone', 'call', 'contact'],
  ['broken', 'damaged', 'defective', 'faulty'],
  ['discount', 'coupon', 'promo', 'voucher'],
  ['address', 'located', 'location'],
  ['payment', 'card', 'pay'],
  ['login', 'password', 'account', 'sign'],
  ['weekend', 'saturday', 'sunday'],
  ['child', 'children', 'kid', 'kids'],
  ['job', 'jobs', 'hiring', 'career', 'careers', 'work'],
  ['guarantee', 'warranty'],
  ['fix', 'repair', 'service'],
  ['rent', 'rental', 'hire'],
  ['track', 'tracking', 'status'],
  ['gift', 'voucher'],
  ['package', 'parcel'],
  ['postage', 'shipping', 'delivery'],
  ['receipt', 'invoice'],
  ['internet', 'wifi'],
  ['shop', 'store'],
  ['available', 'stock'],
  ['tomorrow', 'next'],
  ['europe', 'european', 'international', 'abroad'],
  ['swap', 'exchange'],
  ['email', 'mail'],
];

const SYNONYMS: ReadonlyMap<string, readonly string[]> = (() => {
  const m = new Map<string, string[]>();
  for (const group of SYNONYM_GROUPS) {
    for (const w of group) {
      const list = m.get(w) ?? [];
      for (const other of group) if (other !== w && !list.includes(other)) list.push(other);
      m.set(w, list);
    }
  }
  return m;
})();

/** Multi-word phrases a caller says for a single concept. */
const PHRASES: readonly [RegExp, string][] = [
  [/\bhow much\b/, 'price cost'],
  [/\bmoney back\b/, 'refund'],
  [/\bhow long\b/, 'time days'],
  [/\bwhat time\b/, 'hours'],
  [/\bget in touch\b/, 'contact'],
  [/\b(?:send|bring|take)(?: \w+){0,2} back\b/, 'return'],
  [/\bnever (?:came|arrived)|has(?:n't| not) arrived\b/, 'missing arrived'],
  [/\bhow old\b|\byears? old\b/, 'age'],
];

/**
 * The FTS query text for a user question: surface content words plus phrase and synonym expansions, deduplicated.
 * Empty when the question has no content word ("hi, can you help?").
 */
export function ftsQueryText(query: string): string {
  const lower = query.toLowerCase();
  const out: string[] = [];
  const seen = new Set<string>();
  const push = (w: string) => {
    if (!seen.has(w)) {
      seen.add(w);
      out.push(w);
    }
  };
  for (const w of words(lower)) {
    if (STOPWORDS.has(w)) continue;
    push(w.replace(/'s$/, ''));
  }
  const original = out.length;
  for (const [re, add] of PHRASES) if (re.test(lower)) for (const w of add.split(' ')) push(w);
  for (let i = 0; i < original; i++) {
    const syn = SYNONYMS.get(out[i]!) ?? SYNONYMS.get(stem(out[i]!));
    if (syn) for (const w of syn) push(w);
  }
  return out.join(' ');
}
