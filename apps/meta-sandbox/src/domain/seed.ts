import {
  AppError,
  type SandboxSeed,
  type SandboxSeedApp,
  type SandboxSeedCustomer,
  type SandboxSeedPhoneNumber,
  type SandboxSeedTemplate,
  type SandboxSeedToken,
  type SandboxSeedWaba,
} from '@wapi/contracts';
import { newAccessToken, newObjectId, newSecret } from './ids';
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

// The seed shapes are the control API's, shared with other apps' tests through contracts.
export {
  MetaWebhookField as WebhookField,
  SandboxSeed as Seed,
  SandboxSeedApp as SeedApp,
  SandboxSeedCustomer as SeedCustomer,
  SandboxSeedPhoneNumber as SeedPhoneNumber,
  SandboxSeedTemplate as SeedTemplate,
  SandboxSeedToken as SeedToken,
  SandboxSeedWaba as SeedWaba,
} from '@wapi/contracts';

export interface SeedDefaults {
  throughputMps: number;
}

/** A seed or control call that names something the world does not have (answered 400). */
export class SeedError extends AppError {
  constructor(message: string) {
    super('VALIDATION_FAILED', message);
    this.name = 'SeedError';
  }
}

export function addApp(world: World, input: SandboxSeedApp): SandboxApp {
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
  input: SandboxSeedPhoneNumber,
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
    profile: {},
  };
  world.numbers.set(number.id, number);
  return number;
}

export function addWaba(world: World, input: SandboxSeedWaba, defaults: SeedDefaults): Waba {
  const waba: Waba = {
    id: input.id ?? newObjectId(),
    name: input.name ?? 'Sandbox WABA',
    businessId: input.businessId ?? newObjectId(),
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

export function addToken(world: World, input: SandboxSeedToken, now: number): AccessToken {
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

export function setCustomer(world: World, input: SandboxSeedCustomer): Customer {
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

export function addTemplate(world: World, input: SandboxSeedTemplate, now: number): Template {
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
export function applySeed(world: World, seed: SandboxSeed, now: number, defaults: SeedDefaults) {
  return {
    apps: (seed.apps ?? []).map((a) => addApp(world, a)),
    wabas: (seed.wabas ?? []).map((w) => addWaba(world, w, defaults)),
    tokens: (seed.tokens ?? []).map((t) => addToken(world, t, now)),
    customers: (seed.customers ?? []).map((c) => setCustomer(world, c)),
    templates: (seed.templates ?? []).map((t) => addTemplate(world, t, now)),
  };
}
