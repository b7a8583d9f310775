import { invalidParam } from './graph-error';
import type { BusinessProfile } from './world';

/** §8.6: the industries Graph accepts for `vertical`. */
export const VERTICALS = [
  'UNDEFINED',
  'OTHER',
  'AUTO',
  'BEAUTY',
  'APPAREL',
  'EDU',
  'ENTERTAIN',
  'EVENT_PLAN',
  'FINANCE',
  'GROCERY',
  'GOVT',
  'HOTEL',
  'HEALTH',
  'NONPROFIT',
  'PROF_SERVICES',
  'RETAIL',
  'TRAVEL',
  'RESTAURANT',
  'NOT_A_BIZ',
] as const;

/** §8.6: every readable field, in the order Graph lists them. */
export const PROFILE_FIELDS = [
  'about',
  'address',
  'description',
  'email',
  'profile_picture_url',
  'websites',
  'vertical',
] as const;

/** §8.6 length limits per text field. */
const MAX_LENGTH: Record<string, number> = { about: 139, address: 256, description: 512, email: 128 };

/**
 * `GET /{phone-number-id}/whatsapp_business_profile` body (§8.6): one item in `data`, with
 * `messaging_product` and the requested fields that are set (every field without `fields=`).
 * An unknown field name is refused with code 100, as Graph refuses unknown fields.
 */
export function profileView(
  profile: BusinessProfile,
  fields: string | undefined,
): { data: Array<BusinessProfile & { messaging_product: 'whatsapp' }> } {
  const wanted = fields
    ? fields
        .split(',')
        .map((f) => f.trim())
        .filter(Boolean)
    : [...PROFILE_FIELDS];
  const out: Record<string, unknown> = { messaging_product: 'whatsapp' };
  for (const field of wanted) {
    if (!(PROFILE_FIELDS as readonly string[]).includes(field))
      throw invalidParam(
        `Tried accessing nonexisting field (${field}) on node type (WhatsAppBusinessProfile); fields are ${PROFILE_FIELDS.join(', ')}.`,
      );
    const value = profile[field as keyof BusinessProfile];
    if (value !== undefined) out[field] = value;
  }
  return { data: [out as unknown as BusinessProfile & { messaging_product: 'whatsapp' }] };
}

/**
 * Applies a `POST /{phone-number-id}/whatsapp_business_profile` body (§8.6): `messaging_product`
 * must be `whatsapp`; each given field is checked, then all are applied together (a refused
 * update changes nothing). `profile_picture_handle` (an upload handle) sets the picture URL.
 */
export function updateProfile(
  profile: BusinessProfile,
  body: unknown,
  pictureUrl: (handle: string) => string,
): void {
  const input = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  if (input.messaging_product !== 'whatsapp')
    throw invalidParam('The parameter messaging_product is required and must be "whatsapp".');
  const next: BusinessProfile = { ...profile };
  for (const field of ['about', 'address', 'description', 'email'] as const) {
    const value = input[field];
    if (value === undefined) continue;
    const max = MAX_LENGTH[field] ?? 0;
    if (typeof value !== 'string' || value.length > max || (field === 'about' && value.length === 0))
      throw invalidParam(
        `Param ${field} must be a string of ${field === 'about' ? '1' : '0'}-${max} characters.`,
      );
    if (field === 'email' && value !== '' && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value))
      throw invalidParam('Param email must be a valid email address.');
    next[field] = value;
  }
  if (input.websites !== undefined) {
    const sites = input.websites;
    if (
      !Array.isArray(sites) ||
      sites.length > 2 ||
      !sites.every((w) => typeof w === 'string' && /^https?:\/\//.test(w) && w.length <= 256)
    )
      throw invalidParam(
        'Param websites must list at most 2 URLs starting with http:// or https://, 256 characters each.',
      );
    next.websites = [...sites] as string[];
  }
  if (input.vertical !== undefined) {
    if (typeof input.vertical !== 'string' || !(VERTICALS as readonly string[]).includes(input.vertical))
      throw invalidParam(`Param vertical must be one of ${VERTICALS.join(', ')}.`);
    next.vertical = input.vertical;
  }
  if (input.profile_picture_handle !== undefined) {
    if (typeof input.profile_picture_handle !== 'string' || input.profile_picture_handle === '')
      throw invalidParam('Param profile_picture_handle must be an upload handle.');
    next.profile_picture_url = pictureUrl(input.profile_picture_handle);
  }
  Object.assign(profile, next);
}
