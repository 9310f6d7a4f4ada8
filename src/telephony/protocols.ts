import type { AdapterFactory } from './adapter.js';
import { createAsteriskAdapter } from './asterisk.js';
import { createAudioforkAdapter } from './audiofork.js';
import { createExotelAdapter } from './exotel.js';
import { createFreeswitchAdapter } from './freeswitch.js';
import { createJambonzAdapter } from './jambonz.js';
import { createNativeAdapter } from './native.js';
import { createPlivoAdapter } from './plivo.js';
import { createTelnyxAdapter } from './telnyx.js';
import { createTwilioAdapter } from './twilio.js';
import { createVonageAdapter } from './vonage.js';

/** The wire protocols of DESIGN.md section 4: `/media/<name>`. */
export const PROTOCOLS: Readonly<Record<string, AdapterFactory>> = Object.freeze({
  twilio: createTwilioAdapter,
  telnyx: createTelnyxAdapter,
  plivo: createPlivoAdapter,
  vonage: createVonageAdapter,
  exotel: createExotelAdapter,
  freeswitch: createFreeswitchAdapter,
  audiofork: createAudioforkAdapter,
  asterisk: createAsteriskAdapter,
  jambonz: createJambonzAdapter,
  native: createNativeAdapter,
});

export type ProtocolName = keyof typeof PROTOCOLS;
