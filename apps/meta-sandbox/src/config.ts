import { Type } from '@sinclair/typebox';
import { literalUnion, loadConfig, serviceBaseConfig } from '@wapi/service-kit';

export const SERVICE = 'meta-sandbox';

const int = (min: number, max: number, def: number, description: string) =>
  Type.Integer({ minimum: min, maximum: max, default: def, description });

/** Every variable meta-sandbox reads (the README's configuration table lists them). */
export const configSchema = {
  ...serviceBaseConfig(SERVICE),
  // No default: a published image with a well-known token would hand anyone who reaches
  // it the control API (./wapi up and the test kit generate one per start).
  SANDBOX_ADMIN_TOKEN: Type.String({
    minLength: 16,
    description: 'bearer token for the /_sandbox control API (16+ characters; e.g. openssl rand -hex 24)',
  }),
  SANDBOX_SEED_FILE: Type.String({ default: '', description: 'JSON file with the initial world' }),
  SANDBOX_PUBLIC_URL: Type.String({
    default: '',
    description: 'base URL the sandbox is reached at (media URLs); default http://HOST:PORT',
  }),
  SANDBOX_DETERMINISTIC: Type.Boolean({
    default: false,
    description: 'fixed status timings, no jitter, faults only when asked',
  }),
  SANDBOX_RANDOM_SEED: int(0, 2 ** 31 - 1, 1, 'seed of the fault-injection and jitter generator'),
  SANDBOX_STATUS_SENT_MS: int(0, 86_400_000, 200, 'delay from accepted send to `sent` (unconfirmed, §12)'),
  SANDBOX_STATUS_DELIVERED_MS: int(0, 86_400_000, 1_000, 'delay from `sent` to `delivered`'),
  SANDBOX_STATUS_READ_MS: int(0, 86_400_000, 3_000, 'delay from `delivered` to `read`'),
  SANDBOX_REENGAGEMENT_MODE: literalUnion(['async', 'sync'], {
    default: 'async',
    description: '131047 outside the 24 h window: `failed` status after a 200 (async) or HTTP 400 (sync)',
  }),
  SANDBOX_MESSAGING_LIMIT_MODE: literalUnion(['async', 'sync', 'off'], {
    default: 'async',
    description:
      'portfolio messaging limit exceeded (§5.3, behaviour unconfirmed): `failed` status after a 200 (async), HTTP 400 (sync), or not enforced (off)',
  }),
  SANDBOX_MESSAGING_LIMIT_CODE: int(
    1,
    999_999,
    131048,
    'error code when the portfolio messaging limit is exceeded (unconfirmed at Meta, §13.3)',
  ),
  SANDBOX_US_MARKETING_PAUSE: Type.Boolean({
    default: false,
    description: 'fail marketing templates to +1 numbers with 131049 (§6; per customer via the control API)',
  }),
  SANDBOX_THROUGHPUT_MPS: int(1, 1_000, 80, 'default messages per second of a number (§5.1)'),
  SANDBOX_PAIR_BURST: int(1, 1_000, 45, 'pair-rate burst (§5.2)'),
  SANDBOX_PAIR_INTERVAL_MS: int(1, 3_600_000, 6_000, 'pair-rate refill interval (§5.2)'),
  SANDBOX_TEMPLATE_REVIEW_MS: int(0, 86_400_000, 5_000, 'delay before a PENDING template is decided'),
  SANDBOX_WEBHOOK_TIMEOUT_MS: int(10, 120_000, 5_000, 'webhook POST timeout (unconfirmed at Meta, §3.6)'),
  SANDBOX_WEBHOOK_RETRY_BASE_MS: int(1, 3_600_000, 15_000, 'first backoff after the immediate retry'),
  SANDBOX_WEBHOOK_RETRY_HORIZON_MS: int(
    10,
    30 * 86_400_000,
    7 * 86_400_000,
    'give up retrying after this long (Meta: 7 days, §3.6)',
  ),
  SANDBOX_WEBHOOK_BATCH_MAX: int(1, 1_000, 20, 'most changes per webhook POST (Meta: up to 1,000, §3.6)'),
  SANDBOX_WEBHOOK_BATCH_WINDOW_MS: int(
    0,
    60_000,
    0,
    'changes queued within this window share webhook POSTs (0: those of one event-loop tick)',
  ),
  SANDBOX_WEBHOOK_CONCURRENCY: int(1, 1_000, 32, 'webhook POSTs in flight at once'),
  SANDBOX_RETAINED_MESSAGES: int(
    1_000,
    10_000_000,
    100_000,
    'sent messages kept for the control API and reaction targets; the oldest are forgotten beyond it (bounds memory under load)',
  ),
  SANDBOX_WEBHOOK_ENCODING: literalUnion(['meta', 'utf8'], {
    default: 'meta',
    description:
      "webhook body encoding: Meta's (non-ASCII as \\uXXXX, / as \\/, docs/meta-platform.md §3.2) or raw UTF-8",
  }),
};

export type Config = ReturnType<typeof loadServiceConfig>;

/** Parses the environment once; throws ConfigError listing every problem. */
export function loadServiceConfig(env: Readonly<Record<string, string | undefined>>) {
  return loadConfig(SERVICE, configSchema, env);
}
