import { AppError } from '@wapi/contracts';
import { parsePhoneNumberFromString } from 'libphonenumber-js';

/**
 * `input` as E.164 and as a WhatsApp id (the digits). International form only: the API has
 * no default country, so `0412…` is refused rather than guessed.
 */
export function normalisePhone(input: string): { phone: string; waId: string } {
  const trimmed = input.trim().replace(/[\s().-]/g, '');
  const parsed = parsePhoneNumberFromString(trimmed.startsWith('+') ? trimmed : `+${trimmed}`);
  if (!parsed?.isPossible()) {
    throw new AppError(
      'PHONE_NUMBER_INVALID',
      `"${input.slice(0, 32)}" is not a possible phone number; give it in international form with its country code (+14155550123).`,
    );
  }
  return { phone: parsed.number, waId: parsed.number.slice(1) };
}
