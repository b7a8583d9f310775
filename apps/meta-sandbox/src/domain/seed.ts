import { type Static, Type } from '@sinclair/typebox';
import { newAccessToken, newObjectId, newSecret } from './ids';
import { MESSAGING_TIERS } from './messaging-limits';
import { createThroughputLimiter } from './rate-limiters';
import { callingCodeOf } from './recipient';
import { checkSendTtl } from './ttl';
import {
  type AccessToken,
  type Customer,
  type PhoneNumber,
  type SandboxApp,
  type Template,
  type TemplateStatus,
  type Waba,
  WEBHOOK_FIELDS,
  type World,
} from './world';

export const WebhookField = Type.Union(WEBHOOK_FIELDS.map((f) => Type.Literal(f)));

const Opt = Type.Optional;

export const SeedApp = Type.Object({
  id: Opt(Type.String({ pattern: '^[0-9]{1,20}$' })),
  name: Opt(Type.String({ maxLength: 100 })),
  secret: Opt(Type.String({ minLength: 8 })),
  callbackUrl: Opt(Type.String({ pattern: '^https?://' })),
  verifyToken: Opt(Type.String()),
  /** §3.7 webhook fields the app subscribes to; all of them when absent. */
  fields: Opt(Type.Array(WebhookField, { uniqueItems: true })),
});
export const SeedPhoneNumber = Type.Object({
  id: Opt(Type.String({ pattern: '^[0-9]{1,20}$' })),
  wabaId: Opt(Type.String()),
  display: Type.String({ pattern: '^\\+?[0-9]{6,15}$' }),
  verifiedName: Opt(Type.String()),
  registered: Opt(Type.Boolean()),
  pin: Opt(Type.String({ pattern: '^[0-9]{6}$' })),
  // §5.1: 80 by default, 20 for coexistence numbers, up to 1,000 after the upgrade.
  throughputMps: Opt(Type.Integer({ minimum: 1, maximum: 1_000 })),
  qualityRating: Opt(Type.Union(['GREEN', 'YELLOW', 'RED', 'NA', 'UNKNOWN'].map((q) => Type.Literal(q)))),
  // §5.3 tiers (TIER_1K / TIER_50 from the old per-number ladder).
  messagingLimit: Opt(Type.Union(MESSAGING_TIERS.map((t) => Type.Literal(t)))),
});
export const SeedWaba = Type.Object({
  id: Opt(Type.String({ pattern: '^[0-9]{1,20}$' })),
  name: Opt(Type.String()),
  /** Apps subscribed to this WABA's webhooks (as if `POST /{waba-id}/subscribed_apps` was called). */
  subscribedApps: Opt(Type.Array(Type.String())),
  phoneNumbers: Opt(Type.Array(SeedPhoneNumber)),
});
export const SeedToken = Type.Object({
  value: Opt(Type.String({ minLength: 8 })),
  appId: Type.String(),
  kind: Opt(Type.Union([Type.Literal('system'), Type.Literal('business')])),
  wabaIds: Opt(Type.Array(Type.String())),
  expiresInMs: Opt(Type.Integer({ minimum: 1 })),
});
export const SeedCustomer = Type.Object({
  waId: Type.String({ pattern: '^[0-9]{6,15}$' }),
  name: Opt(Type.String()),
  onWhatsApp: Opt(Type.Boolean()),
  online: Opt(Type.Boolean()),
  readReceipts: Opt(Type.Boolean()),
  marketing: Opt(Type.Union([Type.Literal('stop'), Type.Literal('resume')])),
  /** §6 per-user marketing limit: marketing templates per rolling 24 h; `null` = no cap. */
  marketingCap: Opt(Type.Union([Type.Integer({ minimum: 0, maximum: 1_000 }), Type.Null()])),
  /** §6 US (+1) marketing pause for this user; `null` = SANDBOX_US_MARKETING_PAUSE. */
  usMarketingPause: Opt(Type.Union([Type.Boolean(), Type.Null()])),
  /** §4 130472: the user is in a marketing experiment. */
  marketingExperiment: Opt(Type.Boolean()),
  /** §12: blocked the business — messages stay `sent`. */
  blocked: Opt(Type.Boolean()),
  /** §3.5: plays voice notes (`played` after `read`). */
  playsVoiceNotes: Opt(Type.Boolean()),
});
export const SeedTemplate = Type.Object({
  id: Opt(Type.String()),
  wabaId: Type.String(),
  name: Type.String({ pattern: '^[a-z0-9_]{1,512}$' }),
  language: Type.String(),
  category: Type.Union(['MARKETING', 'UTILITY', 'AUTHENTICATION'].map((c) => Type.Literal(c))),
  status: Opt(
    Type.Union(['PENDING', 'APPROVED', 'REJECTED', 'PAUSED', 'DISABLED'].map((s) => Type.Literal(s))),
  ),
  parameterFormat: Opt(Type.Union([Type.Literal('named'), Type.Literal('positional')])),
  components: Type.Array(Type.Record(Type.String(), Type.Unknown())),
  /** §2.11 custom TTL; checked against the category's range like the Graph create call. */
  messageSendTtlSeconds: Opt(Type.Integer()),
});

/** The initial world (SANDBOX_SEED_FILE, `POST /_sandbox/world`). Missing ids are generated. */
export const Seed = Type.Object({
  apps: Opt(Type.Array(SeedApp)),
  wabas: Opt(Type.Array(SeedWaba)),
  tokens: Opt(Type.Array(SeedToken)),
  customers: Opt(Type.Array(SeedCustomer)),
  templates: Opt(Type.Array(SeedTemplate)),
});
export type Seed = Static<typeof Seed>;

export interface SeedDefaults {
  throughputMps: number;
}

export class SeedError extends Error {}

export function addApp(world: World, input: Static<typeof SeedApp>): SandboxApp {
  const app: SandboxApp = {
    id: input.id ?? newObjectId(),
    name: input.name ?? 'Sandbox App',
    secret: input.secret ?? newSecret(),
    callbackUrl: input.callbackUrl,
    verifyToken: input.verifyToken,
    fields: new Set(input.fields ?? WEBHOOK_FIELDS),
  };
  world.apps.set(app.id, app);
  return app;
}

export function addPhoneNumber(
  world: World,
  wabaId: string,
  input: Static<typeof SeedPhoneNumber>,
  defaults: SeedDefaults,
): PhoneNumber {
  if (!world.wabas.has(wabaId)) throw new SeedError(`unknown WABA ${wabaId}`);
  const display = input.display.replace(/^\+/, '');
  const mps = input.throughputMps ?? defaults.throughputMps;
  const number: PhoneNumber = {
    id: input.id ?? newObjectId(),
    wabaId,
    display,
    callingCode: callingCodeOf(display),
    verifiedName: input.verifiedName ?? 'Sandbox Business',
    qualityRating: input.qualityRating ?? 'GREEN',
    messagingLimit: input.messagingLimit ?? 'TIER_2K',
    throughputMps: mps,
    registered: input.registered ?? true,
    pin: input.pin,
    registerCalls: [],
    override: undefined,
    limiter: createThroughputLimiter(mps),
  };
  world.numbers.set(number.id, number);
  return number;
}

export function addWaba(world: World, input: Static<typeof SeedWaba>, defaults: SeedDefaults): Waba {
  const waba: Waba = {
    id: input.id ?? newObjectId(),
    name: input.name ?? 'Sandbox WABA',
    businessId: newObjectId(),
    subscriptions: new Map(),
    callLimiters: new Map(),
    templateCreations: [],
  };
  for (const appId of input.subscribedApps ?? []) {
    if (!world.apps.has(appId)) throw new SeedError(`unknown app ${appId}`);
    waba.subscriptions.set(appId, { appId, overrideCallbackUri: undefined, verifyToken: undefined });
  }
  world.wabas.set(waba.id, waba);
  for (const n of input.phoneNumbers ?? []) addPhoneNumber(world, waba.id, n, defaults);
  return waba;
}

export function addToken(world: World, input: Static<typeof SeedToken>, now: number): AccessToken {
  if (!world.apps.has(input.appId)) throw new SeedError(`unknown app ${input.appId}`);
  const token: AccessToken = {
    value: input.value ?? newAccessToken(),
    appId: input.appId,
    kind: input.kind ?? 'system',
    wabaIds: input.wabaIds ?? [],
    expiresAt: input.expiresInMs === undefined ? undefined : now + input.expiresInMs,
    revoked: false,
    issuedAt: now,
  };
  world.tokens.set(token.value, token);
  return token;
}

export function setCustomer(world: World, input: Static<typeof SeedCustomer>): Customer {
  const existing = world.customers.get(input.waId);
  const customer: Customer = {
    waId: input.waId,
    name: input.name ?? existing?.name ?? `Customer ${input.waId.slice(-4)}`,
    onWhatsApp: input.onWhatsApp ?? existing?.onWhatsApp ?? true,
    online: input.online ?? existing?.online ?? true,
    readReceipts: input.readReceipts ?? existing?.readReceipts ?? true,
    marketing: input.marketing ?? existing?.marketing ?? 'resume',
    marketingCap: input.marketingCap !== undefined ? input.marketingCap : (existing?.marketingCap ?? null),
    usMarketingPause:
      input.usMarketingPause !== undefined ? input.usMarketingPause : (existing?.usMarketingPause ?? null),
    marketingExperiment: input.marketingExperiment ?? existing?.marketingExperiment ?? false,
    blocked: input.blocked ?? existing?.blocked ?? false,
    playsVoiceNotes: input.playsVoiceNotes ?? existing?.playsVoiceNotes ?? false,
  };
  // §6: the US marketing pause only concerns +1 numbers.
  if (customer.usMarketingPause === true && !customer.waId.startsWith('1'))
    throw new SeedError(`usMarketingPause applies to US (+1) numbers only, not ${customer.waId}`);
  world.customers.set(customer.waId, customer);
  return customer;
}

export function addTemplate(world: World, input: Static<typeof SeedTemplate>, now: number): Template {
  if (!world.wabas.has(input.wabaId)) throw new SeedError(`unknown WABA ${input.wabaId}`);
  const ttlProblem = checkSendTtl(input.category, input.messageSendTtlSeconds);
  if (ttlProblem) throw new SeedError(ttlProblem);
  const template: Template = {
    id: input.id ?? newObjectId(),
    wabaId: input.wabaId,
    name: input.name,
    language: input.language,
    category: input.category,
    status: (input.status ?? 'APPROVED') as TemplateStatus,
    parameterFormat: input.parameterFormat ?? 'positional',
    components: input.components.map((c) => ({ ...c, type: String(c.type).toUpperCase() })),
    createdAt: now,
    messageSendTtlSeconds: input.messageSendTtlSeconds,
    approvedEdits: [],
  };
  world.templates.set(template.id, template);
  return template;
}

/** Applies a seed in dependency order: apps, WABAs (with numbers), tokens, customers, templates. */
export function applySeed(world: World, seed: Seed, now: number, defaults: SeedDefaults) {
  return {
    apps: (seed.apps ?? []).map((a) => addApp(world, a)),
    wabas: (seed.wabas ?? []).map((w) => addWaba(world, w, defaults)),
    tokens: (seed.tokens ?? []).map((t) => addToken(world, t, now)),
    customers: (seed.customers ?? []).map((c) => setCustomer(world, c)),
    templates: (seed.templates ?? []).map((t) => addTemplate(world, t, now)),
  };
}
