/**
 * RFC 4180 CSV: quoted fields with doubled quotes, CRLF or LF records, a header row. Each record keeps its source
 * span so that chunks can point back at the row they came from.
 */
export interface CsvRecord {
  fields: string[];
  start: number;
  end: number;
}

/** Returns null when a quoted field is never closed (malformed input). */
export function parseCsv(text: string): CsvRecord[] | null {
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let recordStart = 0;
  let i = 0;
  const n = text.length;
  let quoted = false;
  let fieldWasQuoted = false;
  const endRecord = (end: number) => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === '' && !fieldWasQuoted))
      records.push({ fields, start: recordStart, end });
    fields = [];
    field = '';
    fieldWasQuoted = false;
  };
  while (i < n) {
    const c = text.charCodeAt(i);
    if (quoted) {
      if (c === 34 /* " */) {
        if (text.charCodeAt(i + 1) === 34) {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      field += text[i];
      i++;
      continue;
    }
    if (c === 34 && field === '') {
      quoted = true;
      fieldWasQuoted = true;
      i++;
    } else if (c === 44 /* , */) {
      fields.push(field);
      field = '';
      fieldWasQuoted = false;
      i++;
    } else if (c === 10 || c === 13) {
      endRecord(i);
      i += c === 13 && text.charCodeAt(i + 1) === 10 ? 2 : 1;
      recordStart = i;
    } else {
      field += text[i];
      i++;
    }
  }
  if (quoted) return null;
  if (field !== '' || fields.length > 0 || fieldWasQuoted) endRecord(n);
  return records;
}
