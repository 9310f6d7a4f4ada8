import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { parseCsv } from '../rag/csv.js';
import type { CampaignRowInput } from '../store/campaign-types.js';
import { validZone } from './window.js';

/**
 * The uploaded list of a campaign: JSON rows or CSV text (a header row; a `phone` column, an optional `timezone`
 * column, every other column a prompt variable of that row). Bad rows are reported, with their line, and left out;
 * the good ones go on. Numbers must be E.164 ("+15550001111"), as everywhere in the API.
 */
export interface ListRow {
  phone: string;
  timezone?: string;
  metadata?: Record<string, string | number | boolean>;
}

export interface ParsedList {
  rows: CampaignRowInput[];
  rejected: { row: number; phone?: string; reason: string }[];
}

export const MAX_ROWS = 50_000;
const E164 = /^\+[1-9]\d{1,14}$/;

function phoneError(v: string): string | undefined {
  const p = E164.test(v) ? parsePhoneNumberFromString(v) : undefined;
  return p?.isPossible() && p.number === v ? undefined : 'not an E.164 phone number';
}

export function parseRows(input: ListRow[]): ParsedList {
  const out: ParsedList = { rows: [], rejected: [] };
  const seen = new Set<string>();
  for (const [i, r] of input.entries()) {
    const row = i + 1;
    const phone = String(r.phone ?? '').trim();
    const reason =
      phoneError(phone) ??
      (r.timezone !== undefined && !validZone(r.timezone) ? `unknown time zone '${r.timezone}'` : undefined) ??
      (seen.has(phone) ? 'duplicate number' : undefined);
    if (reason) {
      out.rejected.push({ row, phone, reason });
      continue;
    }
    seen.add(phone);
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.metadata ?? {})) metadata[k] = String(v);
    out.rows.push({ phone, ...(r.timezone ? { timezone: r.timezone } : {}), metadata });
  }
  return out;
}

/** CSV with a header row; null when the text is not CSV or has no `phone` column. */
export function parseCsvList(text: string): ParsedList | { error: string } {
  const records = parseCsv(text);
  if (!records?.length) return { error: 'csv: not CSV, or empty' };
  const header = records[0]!.fields.map((h) => h.trim());
  const phoneAt = header.findIndex((h) => h.toLowerCase() === 'phone');
  if (phoneAt < 0) return { error: 'csv: the header row has no "phone" column' };
  const tzAt = header.findIndex((h) => h.toLowerCase() === 'timezone');
  const rows: ListRow[] = records.slice(1).map((r) => {
    const metadata: Record<string, string> = {};
    header.forEach((h, k) => {
      if (k !== phoneAt && k !== tzAt && h && r.fields[k] !== undefined) metadata[h] = r.fields[k]!;
    });
    const tz = tzAt >= 0 ? r.fields[tzAt]?.trim() : undefined;
    return { phone: r.fields[phoneAt] ?? '', ...(tz ? { timezone: tz } : {}), metadata };
  });
  return parseRows(rows);
}
