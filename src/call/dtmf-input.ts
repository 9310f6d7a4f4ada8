import type { DtmfConfig } from '../assistant.js';

/**
 * DTMF from the caller. A digit listed in the assistant's menu acts at once (reply / tool / transfer / hangup);
 * other digits are collected until the terminator (default '#') or an inter-digit timeout, then handed to the LLM
 * as a user message `DTMF: 1234` (the convention the rules agent matches on).
 */
export type MenuAction = NonNullable<DtmfConfig['menu']>[string];

export interface DtmfInputEvents {
  onMenu(digit: string, action: MenuAction): void;
  onDigits(digits: string, reason: 'terminator' | 'timeout' | 'max_digits'): void;
}

export class DtmfInput {
  private digits = '';
  private timer: NodeJS.Timeout | undefined;
  private cfg: DtmfConfig;
  private readonly events: DtmfInputEvents;

  constructor(cfg: DtmfConfig | undefined, events: DtmfInputEvents) {
    this.cfg = cfg ?? {};
    this.events = events;
  }

  setConfig(cfg: DtmfConfig | undefined): void {
    this.cfg = cfg ?? {};
  }

  get enabled(): boolean {
    return this.cfg.enabled !== false;
  }

  get collecting(): boolean {
    return this.digits.length > 0;
  }

  /** One key press; returns false when DTMF is disabled or the key is not a DTMF key. */
  press(digit: string): boolean {
    if (!this.enabled || !/^[0-9*#A-D]$/.test(digit)) return false;
    const terminator = this.cfg.terminator ?? '#';
    // A menu key acts only as the first key: inside a collected number, '1' is a digit.
    const menu = this.cfg.menu?.[digit];
    if (menu && this.digits === '') {
      this.events.onMenu(digit, menu);
      return true;
    }
    if (digit === terminator) {
      this.flush('terminator');
      return true;
    }
    this.digits += digit;
    if (this.digits.length >= (this.cfg.maxDigits ?? 20)) {
      this.flush('max_digits');
      return true;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush('timeout'), this.cfg.interDigitTimeoutMs ?? 3000);
    return true;
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.digits = '';
  }

  private flush(reason: 'terminator' | 'timeout' | 'max_digits'): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const d = this.digits;
    this.digits = '';
    if (d) this.events.onDigits(d, reason);
  }
}
