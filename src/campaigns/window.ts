import type { CampaignWindow } from '../store/campaign-types.js';

/**
 * Calling windows in local time (IANA zones, daylight saving included: Intl does the conversion). "HH:MM" bounds,
 * start inclusive, end exclusive; an end before the start spans midnight (22:00-02:00). One formatter per zone.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();
const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };
const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    if (formatters.size > 500) formatters.clear();
    formatters.set(zone, f);
  }
  return f;
}

/** A time zone Intl knows (an IANA name such as Europe/Paris), or false. */
export function validZone(zone: string): boolean {
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

export function validHhmm(v: string): boolean {
  return HHMM.test(v);
}

const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** ISO weekday (1 = Monday) and minutes since local midnight at `at` (epoch ms) in `zone`. */
export function localTime(zone: string, at: number): { weekday: number; minutes: number } {
  let weekday = 0;
  let hour = 0;
  let minute = 0;
  for (const p of formatter(zone).formatToParts(at)) {
    if (p.type === 'weekday') weekday = WEEKDAYS[p.value] ?? 0;
    else if (p.type === 'hour') hour = Number(p.value);
    else if (p.type === 'minute') minute = Number(p.value);
  }
  return { weekday, minutes: hour * 60 + minute };
}

/** May a call be placed at `at` in `zone`? No window: always. */
export function windowOpen(w: CampaignWindow | undefined, zone: string, at: number): boolean {
  if (!w) return true;
  const { weekday, minutes } = localTime(zone, at);
  const start = minutesOf(w.start);
  const end = minutesOf(w.end);
  // A window past midnight belongs to the day it opened.
  const overnightTail = end < start && minutes < end;
  const day = overnightTail ? (weekday === 1 ? 7 : weekday - 1) : weekday;
  if (w.days?.length && !w.days.includes(day)) return false;
  if (start === end) return true;
  return start < end ? minutes >= start && minutes < end : minutes >= start || minutes < end;
}
