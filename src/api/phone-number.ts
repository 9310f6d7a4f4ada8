import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { EngineError } from '../errors.js';

/** E.164 (ITU-T E.164 section 6): a plus, a country code not starting with 0, at most 15 digits, nothing else. */
const E164 = /^\+[1-9]\d{1,14}$/;

/**
 * A phone number the API accepts: strict E.164 syntax, a country calling code that exists, and a length possible
 * for that country (libphonenumber-js). "Possible", not "assigned": fictional numbers such as +1 555 … pass, which
 * test suites and demos rely on; `12345`, `+999` and `+1555` do not. The answer is the number itself (already
 * canonical); a refusal is 422 INVALID_PHONE_NUMBER naming the field.
 */
export function e164(field: string, value: string, where: 'body' | 'querystring' = 'body'): string {
  const v = value.trim();
  const parsed = E164.test(v) ? parsePhoneNumberFromString(v) : undefined;
  if (!parsed?.isPossible() || parsed.number !== v) {
    throw new EngineError(
      'INVALID_PHONE_NUMBER',
      `${where}.${field} must be a phone number in E.164 format (e.g. +2348012345678); got '${value}'`,
      [
        {
          in: where,
          field,
          instancePath: `/${field.replaceAll('.', '/')}`,
          message: 'must be an E.164 phone number',
        },
      ],
    );
  }
  return v;
}

/** e164 for an optional field. */
export function optionalE164(field: string, value: string | undefined): string | undefined {
  return value === undefined ? undefined : e164(field, value);
}
