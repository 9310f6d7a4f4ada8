/** The structural units a parser yields and the chunker packs. Offsets are UTF-16 code units into the document text. */
export interface Block {
  kind: 'heading' | 'paragraph' | 'qa' | 'record';
  text: string;
  start: number;
  end: number;
  /** Heading level 1-6 */
  level?: number;
  /** FAQ pair id or record key, when the source names one */
  label?: string;
}

export type DocFormat = 'text' | 'markdown' | 'html' | 'pdf' | 'csv' | 'json';

export const FORMAT_MIME: Record<DocFormat, string> = {
  text: 'text/plain',
  markdown: 'text/markdown',
  html: 'text/html',
  pdf: 'application/pdf',
  csv: 'text/csv',
  json: 'application/json',
};

export interface ParsedDocument {
  format: DocFormat;
  mime: string;
  /** The text that block and chunk offsets refer to: the source itself for text, Markdown and CSV. */
  text: string;
  blocks: Block[];
}
