/**
 * PDF text through unpdf (pdf.js built for server runtimes, pure JS). One block per paragraph; pages are joined by a
 * blank line and offsets refer to that extracted text.
 */
import { EngineError } from '../errors.js';
import type { Block } from './blocks.js';
import { paragraphBlocks } from './paragraphs.js';

export async function pdfToBlocks(bytes: Uint8Array): Promise<{ text: string; blocks: Block[] }> {
  const { extractText, getDocumentProxy } = await import('unpdf');
  let pages: string[];
  try {
    // pdf.js takes ownership of (detaches) the buffer it is given: hand it a copy.
    const doc = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0 });
    pages = (await extractText(doc, { mergePages: false })).text;
    await doc.destroy();
  } catch (err) {
    throw new EngineError('VALIDATION_FAILED', `The PDF could not be read: ${(err as Error).message}`);
  }
  const text = pages
    .map((p) => p.trim())
    .filter(Boolean)
    .join('\n\n');
  return { text, blocks: paragraphBlocks(text, 0, text.length) };
}
