/**
 * Time-to-live of undelivered messages (§2.11): 30 days by default, 10 minutes for
 * authentication templates; a template's `message_send_ttl_seconds` overrides it within its
 * category's range (`-1` = 30 days for authentication and utility).
 */
export const DEFAULT_TTL_MS = 30 * 86_400_000;
export const AUTHENTICATION_TTL_MS = 10 * 60_000;

/** §2.11 ranges of `message_send_ttl_seconds` per category. */
const TTL_RANGES: Record<string, { min: number; max: number; allowsDefault: boolean }> = {
  AUTHENTICATION: { min: 30, max: 900, allowsDefault: true },
  UTILITY: { min: 30, max: 43_200, allowsDefault: true },
  // §2.11 lists the marketing range for the MM API; the sandbox accepts it on every send path.
  MARKETING: { min: 43_200, max: 2_592_000, allowsDefault: false },
};

/** A problem with `ttl` for `category`, or undefined when it is acceptable (or absent). */
export function checkSendTtl(category: string, ttl: number | undefined): string | undefined {
  if (ttl === undefined) return undefined;
  const range = TTL_RANGES[category.toUpperCase()];
  if (!range) return `message_send_ttl_seconds is not supported for category ${category}`;
  if (ttl === -1 && range.allowsDefault) return undefined;
  if (!Number.isInteger(ttl) || ttl < range.min || ttl > range.max)
    return `message_send_ttl_seconds must be ${range.min}-${range.max}${range.allowsDefault ? ' or -1' : ''} for ${category.toUpperCase()} templates`;
  return undefined;
}

/** The TTL of one send: non-template messages 30 days; templates by category or custom TTL. */
export function ttlMsFor(
  template: { category: string; messageSendTtlSeconds: number | undefined } | undefined,
) {
  if (!template) return DEFAULT_TTL_MS;
  const custom = template.messageSendTtlSeconds;
  if (custom !== undefined && custom !== -1) return custom * 1_000;
  if (custom === -1) return DEFAULT_TTL_MS;
  return template.category.toUpperCase() === 'AUTHENTICATION' ? AUTHENTICATION_TTL_MS : DEFAULT_TTL_MS;
}
