/** Country calling codes, longest first when matching a business number's prefix. */
const CALLING_CODES = [
  '1',
  '7',
  '20',
  '27',
  '30',
  '31',
  '32',
  '33',
  '34',
  '36',
  '39',
  '40',
  '41',
  '43',
  '44',
  '45',
  '46',
  '47',
  '48',
  '49',
  '51',
  '52',
  '53',
  '54',
  '55',
  '56',
  '57',
  '58',
  '60',
  '61',
  '62',
  '63',
  '64',
  '65',
  '66',
  '81',
  '82',
  '84',
  '86',
  '90',
  '91',
  '92',
  '93',
  '94',
  '95',
  '98',
  '211',
  '212',
  '213',
  '216',
  '218',
  '220',
  '233',
  '234',
  '254',
  '255',
  '256',
  '351',
  '352',
  '353',
  '354',
  '355',
  '358',
  '359',
  '370',
  '371',
  '372',
  '380',
  '381',
  '385',
  '386',
  '420',
  '421',
  '852',
  '853',
  '855',
  '880',
  '886',
  '960',
  '961',
  '962',
  '963',
  '964',
  '965',
  '966',
  '967',
  '968',
  '970',
  '971',
  '972',
  '973',
  '974',
  '975',
  '976',
  '977',
];

/** The calling code a number starts with (3-digit codes first, then 2, then 1). */
export function callingCodeOf(digits: string): string {
  for (const len of [3, 2, 1]) {
    const prefix = digits.slice(0, len);
    if (CALLING_CODES.includes(prefix)) return prefix;
  }
  return digits.slice(0, 1);
}

/**
 * Recipient normalisation (§2.1, §12): `+ - ( )` and spaces are accepted and stripped.
 * Without a leading `+`, Meta prefixes the *business* number's calling code. Numbers that
 * already start with that code and are long enough to carry it are kept (interpretation:
 * integrators commonly send `16505551234` without `+` and Meta accepts it).
 * Returns undefined when what remains is not 6-15 digits.
 */
export function normaliseRecipient(input: string, businessCallingCode: string): string | undefined {
  const trimmed = input.trim();
  if (!/^[+0-9()\-\s.]+$/.test(trimmed)) return undefined;
  let digits = trimmed.replace(/[^0-9]/g, '');
  if (!trimmed.startsWith('+')) {
    digits = digits.replace(/^0+/, '');
    const carriesCode =
      digits.startsWith(businessCallingCode) && digits.length >= businessCallingCode.length + 9;
    if (!carriesCode) digits = businessCallingCode + digits;
  }
  return /^[1-9][0-9]{5,14}$/.test(digits) ? digits : undefined;
}
