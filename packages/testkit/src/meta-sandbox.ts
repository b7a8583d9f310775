import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type {
  SandboxInboundSpec as ContractInboundSpec,
  MetaWebhookField,
  SandboxAccountUpdateRequest,
  SandboxCapabilityUpdateRequest,
  SandboxFaults,
  SandboxInboundRecord,
  SandboxPhoneNumberQualityRequest,
  SandboxPhoneNumberQualityResponse,
  SandboxSeed,
  SandboxSeedApp,
  SandboxSeedCustomer,
  SandboxSeedPhoneNumber,
  SandboxSeedTemplate,
  SandboxSentMessage,
  SandboxTemplateQualityRequest,
  SandboxTemplateQualityResponse,
  SandboxTimings,
  SandboxWabaEventResponse,
  SandboxWebhooks,
} from '@wapi/contracts';
import { freePort } from './ports';
import { type SpawnedService, spawnService } from './spawn';
import { waitFor } from './wait';

// Starts the *built* meta-sandbox (apps/meta-sandbox/dist/server.js) as a real process, so
// that gateway, webhook-ingest, message-sender and meta-client test against Meta's stand-in
// over real HTTP. testkit depends on no app (meta-sandbox's own tests use testkit): the
// sandbox is resolved from the package that calls, which lists `@wapi/meta-sandbox` as a
// devDependency so that turbo builds it before that package's tests.

const SANDBOX_PACKAGE = '@wapi/meta-sandbox';
const BUILD_HINT = `run \`pnpm --filter ${SANDBOX_PACKAGE} build\` (turbo builds it before the tests of a package that lists ${SANDBOX_PACKAGE} as a devDependency)`;

// The control API's shapes (seed, inbound specs, what the sandbox recorded, faults, timings)
// are TypeBox schemas in @wapi/contracts, which the sandbox validates against and answers
// with; they are re-exported here under the names testkit has always used.
export type {
  SandboxAccountUpdateRequest,
  SandboxCapabilityUpdateRequest,
  SandboxFaults,
  SandboxInboundRecord,
  SandboxPhoneNumberQualityRequest,
  SandboxPhoneNumberQualityResponse,
  SandboxSeed,
  SandboxSeedApp,
  SandboxSeedCustomer,
  SandboxSeedPhoneNumber,
  SandboxSeedTemplate,
  SandboxSeedToken,
  SandboxSeedWaba,
  SandboxSentMessage,
  SandboxTemplateQualityRequest,
  SandboxTemplateQualityResponse,
  SandboxTimings,
  SandboxWabaEventResponse,
  SandboxWebhookDelivery,
  SandboxWebhooks,
} from '@wapi/contracts';

/** What {@link sandboxFixture} can change; everything has a default. */
export interface SandboxFixtureOptions {
  appId?: string;
  appSecret?: string;
  appName?: string;
  /** The app's webhook URL (e.g. a webhook-ingest under test). */
  callbackUrl?: string;
  /** With `callbackUrl`: the sandbox verifies the URL with the GET handshake at start (§3.1). */
  verifyToken?: string;
  /** §3.7 webhook fields the app receives; all when absent. */
  fields?: MetaWebhookField[];
  wabaId?: string;
  wabaName?: string;
  phoneNumberId?: string;
  displayPhoneNumber?: string;
  verifiedName?: string;
  throughputMps?: number;
  accessToken?: string;
  /** Overrides of the approved template (its `wabaId` is the fixture's). */
  template?: Partial<Omit<SandboxSeedTemplate, 'wabaId'>>;
  /** More numbers on the fixture's WABA. */
  morePhoneNumbers?: SandboxSeedPhoneNumber[];
  /** More templates on the fixture's WABA. */
  moreTemplates?: Array<Omit<SandboxSeedTemplate, 'wabaId'>>;
  customers?: SandboxSeedCustomer[];
}

/** The ids and secrets of a fixture world, and the seed that creates it. */
export interface SandboxFixture {
  appId: string;
  appSecret: string;
  wabaId: string;
  phoneNumberId: string;
  displayPhoneNumber: string;
  accessToken: string;
  templateName: string;
  templateLanguage: string;
  seed: SandboxSeed;
}

/**
 * A seed with sensible defaults: one app with a secret, subscribed to one WABA with one
 * registered number, one system-user token of that app, one approved UTILITY template
 * without parameters (`hello_world`, `en_US`). Every value can be overridden.
 */
export function sandboxFixture(options: SandboxFixtureOptions = {}): SandboxFixture {
  const appId = options.appId ?? '100000000000001';
  const appSecret = options.appSecret ?? 'testkit-sandbox-app-secret';
  const wabaId = options.wabaId ?? '200000000000001';
  const phoneNumberId = options.phoneNumberId ?? '300000000000001';
  const displayPhoneNumber = (options.displayPhoneNumber ?? '15550783881').replace(/^\+/, '');
  const accessToken = options.accessToken ?? 'EAAtestkitsandboxtoken01';
  const template: Omit<SandboxSeedTemplate, 'wabaId'> = {
    name: 'hello_world',
    language: 'en_US',
    category: 'UTILITY',
    components: [{ type: 'BODY', text: 'Hello from Lucky Shrub.' }],
    ...options.template,
  };
  const app: SandboxSeedApp = { id: appId, secret: appSecret };
  if (options.appName !== undefined) app.name = options.appName;
  if (options.callbackUrl !== undefined) app.callbackUrl = options.callbackUrl;
  if (options.verifyToken !== undefined) app.verifyToken = options.verifyToken;
  if (options.fields !== undefined) app.fields = options.fields;
  const number: SandboxSeedPhoneNumber = {
    id: phoneNumberId,
    display: displayPhoneNumber,
    verifiedName: options.verifiedName ?? 'Lucky Shrub',
  };
  if (options.throughputMps !== undefined) number.throughputMps = options.throughputMps;
  return {
    appId,
    appSecret,
    wabaId,
    phoneNumberId,
    displayPhoneNumber,
    accessToken,
    templateName: template.name,
    templateLanguage: template.language,
    seed: {
      apps: [app],
      wabas: [
        {
          id: wabaId,
          name: options.wabaName ?? 'Lucky Shrub WABA',
          subscribedApps: [appId],
          phoneNumbers: [number, ...(options.morePhoneNumbers ?? [])],
        },
      ],
      tokens: [{ value: accessToken, appId }],
      customers: options.customers ?? [],
      templates: [template, ...(options.moreTemplates ?? [])].map((t) => ({ ...t, wabaId })),
    },
  };
}

/**
 * One inbound message a simulated customer sends (`POST /_sandbox/inbound`,
 * docs/meta-sandbox.md); the sandbox refuses fields it does not know, naming them.
 */
export type SandboxInboundSpec = ContractInboundSpec & { [key: string]: unknown };

/**
 * Typed calls to the sandbox's control API (`/_sandbox/…`, docs/meta-sandbox.md). Each
 * throws an Error naming the call and the sandbox's answer when it is not a 2xx.
 * `phoneNumberId` defaults to the first number of the seed.
 */
export interface SandboxControl {
  /** A customer sends messages to a business number; webhooks follow. Returns their wamids. */
  inbound(input: {
    from: string;
    messages: SandboxInboundSpec[];
    phoneNumberId?: string;
    name?: string;
  }): Promise<{ ids: string[] }>;
  /** A customer sends one text message; returns its wamid. */
  inboundText(
    from: string,
    text: string,
    options?: { phoneNumberId?: string; name?: string },
  ): Promise<string>;
  /** A customer stops or resumes marketing messages; a `user_preferences` webhook follows (§9). */
  userPreferences(input: { waId: string; value: 'stop' | 'resume'; phoneNumberId?: string }): Promise<void>;
  /** Moves a template to a status, with its `message_template_status_update` webhook (§7.4). */
  setTemplateStatus(
    templateId: string,
    status: NonNullable<SandboxSeedTemplate['status']>,
    reason?: string,
  ): Promise<void>;
  /**
   * Meta re-rates a number: quality rating, the portfolio's messaging limit, throughput level
   * (§5.1, §5.3, §8.5). `GET /{phone-number-id}` shows the change, and a
   * `phone_number_quality_update` webhook follows (§3.7) unless nothing changed and no `event`
   * was given. `phoneNumberId` defaults to the seed's first number.
   */
  setPhoneNumberQuality(
    input: SandboxPhoneNumberQualityRequest & { phoneNumberId?: string },
  ): Promise<SandboxPhoneNumberQualityResponse>;
  /**
   * Sends an `account_update` webhook for a WABA (§3.7), e.g.
   * `{ event: 'DISABLED_UPDATE', banInfo: { wabaBanState: 'DISABLE' } }`. `wabaId` defaults to
   * the seed's first WABA. Returns the webhook `value` sent.
   */
  accountUpdate(input: SandboxAccountUpdateRequest & { wabaId?: string }): Promise<SandboxWabaEventResponse>;
  /**
   * Sends a `business_capability_update` webhook for a WABA (§3.7); a new
   * `maxDailyConversationsPerBusiness` becomes the portfolio's messaging limit (§5.3).
   */
  capabilityUpdate(
    input: SandboxCapabilityUpdateRequest & { wabaId?: string },
  ): Promise<SandboxWabaEventResponse>;
  /** A template's quality score moves; a `message_template_quality_update` webhook follows (§3.7). */
  setTemplateQuality(
    templateId: string,
    quality: SandboxTemplateQualityRequest['quality'],
  ): Promise<SandboxTemplateQualityResponse>;
  /** Changes a simulated customer (online, read receipts, blocked, …). */
  setCustomer(waId: string, patch: Omit<SandboxSeedCustomer, 'waId'>): Promise<SandboxSeedCustomer>;
  /** Mints an Embedded Signup code (§8.1), valid 30 s. `appId` defaults to the seed's first app. */
  mintOAuthCode(input: { wabaIds: string[]; appId?: string }): Promise<{ code: string; expiresAt: number }>;
  /** Changes an app's callback URL; the sandbox verifies it with the GET handshake (§3.1). */
  setAppWebhook(appId: string, input: { callbackUrl: string; verifyToken: string }): Promise<void>;
  revokeToken(value: string): Promise<void>;
  /** Adds to the world (apps, WABAs, numbers, tokens, customers, templates). */
  applySeed(seed: SandboxSeed): Promise<unknown>;
  /** What the platform sent, with statuses; filtered by number and/or recipient. */
  sentMessages(filter?: { phoneNumberId?: string; to?: string }): Promise<SandboxSentMessage[]>;
  inboundMessages(filter?: { phoneNumberId?: string }): Promise<SandboxInboundRecord[]>;
  /** Recent webhook deliveries (newest last) and the engine's counters. */
  webhooks(limit?: number): Promise<SandboxWebhooks>;
  /** Merges delivery faults into the current ones; returns them all. */
  setFaults(faults: SandboxFaults): Promise<Required<SandboxFaults>>;
  setTimings(timings: SandboxTimings): Promise<Required<SandboxTimings>>;
  /** Empties the world (the seed too). */
  reset(): Promise<void>;
  /** Any other control call: `path` is below `/_sandbox`. */
  request<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T>;
}

/** A running meta-sandbox process. */
export interface MetaSandbox {
  /** `http://127.0.0.1:<port>`: the Graph host (`createMetaClient({ baseUrl })`). */
  readonly baseUrl: string;
  readonly port: number;
  /** The process id (to assert it is gone after `stop()`). */
  readonly pid: number;
  /** Bearer of the control API (random per start unless `env.SANDBOX_ADMIN_TOKEN`). */
  readonly adminToken: string;
  /** The seed it started with. */
  readonly seed: SandboxSeed;
  /** The Graph base with its version, e.g. `http://127.0.0.1:41234/v23.0`. */
  graphUrl(version?: string): string;
  readonly control: SandboxControl;
  /** What the process wrote so far (for a failing test's message). */
  output(): string;
  /** Stops the process (SIGTERM, then SIGKILL after 10 s) and removes its seed file. Idempotent. */
  stop(): Promise<void>;
}

export interface StartMetaSandboxOptions {
  /** Readiness dependency of the sandbox, e.g. `ctx.infra.redisUrl`. */
  redisUrl: string;
  /** The world at start; `sandboxFixture().seed` when absent. */
  seed?: SandboxSeed;
  /** More `SANDBOX_*` (or `LOG_LEVEL`, …) variables; `PORT` and `SANDBOX_SEED_FILE` are the helper's. */
  env?: Record<string, string>;
  /**
   * Directory of the package whose dependencies provide `@wapi/meta-sandbox` (it lists it as
   * a devDependency). Default `process.cwd()`, which is the package's directory when its
   * tests run through `vitest run` or turbo.
   */
  from?: string;
  /** How long to wait for `/health/ready`. Default 20 s. */
  startTimeoutMs?: number;
}

/**
 * Path of the built sandbox server (`dist/server.js`) as the package in `from` sees it.
 * Throws, saying what to do, when the package does not list `@wapi/meta-sandbox` or when
 * it is not built.
 */
export function locateMetaSandbox(from: string = process.cwd()): string {
  const start = resolve(from);
  const manifest = findInNodeModules(start, join('@wapi', 'meta-sandbox', 'package.json'));
  if (!manifest)
    throw new Error(
      `startMetaSandbox: cannot resolve ${SANDBOX_PACKAGE} from ${start}; add "${SANDBOX_PACKAGE}": "workspace:*" to that package's devDependencies and run pnpm install (or pass \`from\`: the directory of a package that lists it)`,
    );
  const entry = join(dirname(manifest), 'dist', 'server.js');
  if (!existsSync(entry))
    throw new Error(`startMetaSandbox: meta-sandbox is not built (no ${entry}); ${BUILD_HINT}`);
  return entry;
}

/**
 * Node's `node_modules` lookup from `dir` upwards, without NODE_PATH and the other global
 * folders: pnpm's bin shims put the hoisted store (where every workspace package is linked)
 * on NODE_PATH, which would find the sandbox for a package that does not list it — and
 * then turbo would not have built it first.
 */
function findInNodeModules(dir: string, relativePath: string): string | undefined {
  for (let current = dir; ; current = dirname(current)) {
    const candidate = join(current, 'node_modules', relativePath);
    if (existsSync(candidate)) return candidate;
    if (dirname(current) === current) return undefined;
  }
}

// Children still running when the test process exits are killed, so that a test file that
// forgot stop() (or crashed) leaves no sandbox behind.
const running = new Set<SpawnedService>();
let exitHookInstalled = false;
function trackForExit(service: SpawnedService) {
  running.add(service);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const s of running) s.child.kill('SIGKILL');
  });
}

const OWNED_ENV = ['PORT', 'SANDBOX_SEED_FILE'];

/**
 * Starts the built meta-sandbox on a free port of 127.0.0.1 with `seed`, and resolves once
 * `/health/ready` answers. Call `stop()` in `afterAll`.
 *
 * @example
 * const ctx = useTestContext('gateway');
 * const world = sandboxFixture({ callbackUrl: ingestUrl });
 * let sandbox: MetaSandbox;
 * beforeAll(async () => { sandbox = await startMetaSandbox({ redisUrl: ctx.infra.redisUrl, seed: world.seed }); });
 * afterAll(() => sandbox?.stop());
 */
export async function startMetaSandbox(options: StartMetaSandboxOptions): Promise<MetaSandbox> {
  const entry = locateMetaSandbox(options.from);
  for (const name of OWNED_ENV)
    if (options.env?.[name] !== undefined)
      throw new Error(
        `startMetaSandbox: do not set ${name} in env; the helper chooses it (pass \`seed\` for the world)`,
      );
  const seed = options.seed ?? sandboxFixture().seed;
  const dir = mkdtempSync(join(tmpdir(), 'wapi-meta-sandbox-'));
  const seedFile = join(dir, 'seed.json');
  writeFileSync(seedFile, JSON.stringify(seed));
  const adminToken = options.env?.SANDBOX_ADMIN_TOKEN ?? randomBytes(24).toString('hex');
  const timeoutMs = options.startTimeoutMs ?? 20_000;

  // freePort() can lose a race with another process between its check and our listen; a
  // start that fails with EADDRINUSE is retried on a new port.
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    const service = spawnService(entry, {
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ...options.env,
      REDIS_URL: options.redisUrl,
      PORT: String(port),
      SANDBOX_SEED_FILE: seedFile,
      SANDBOX_ADMIN_TOKEN: adminToken,
    });
    trackForExit(service);
    const baseUrl = `http://127.0.0.1:${port}`;
    let exited = false;
    void service.exited.then(() => {
      exited = true;
    });
    let failure: string | undefined;
    try {
      // Ends early when the process dies, so a failed start is reported at once.
      await waitFor(async () => exited || (await fetch(`${baseUrl}/health/ready`)).ok, {
        timeoutMs,
        what: 'meta-sandbox /health/ready',
      });
      if (exited) failure = 'exited before it was ready';
    } catch (error) {
      failure = (error as Error).message;
    }
    if (failure === undefined) return handle(service, baseUrl, port, adminToken, seed, dir);
    await stopProcess(service);
    if (exited && /EADDRINUSE/.test(service.output()) && attempt < 3) continue;
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `startMetaSandbox: the sandbox ${failure}; check the seed and env it was given (is Redis at the given redisUrl up? if the build is stale, ${BUILD_HINT}). Its output:\n${service.output().slice(-3_000)}`,
    );
  }
}

async function stopProcess(service: SpawnedService): Promise<void> {
  running.delete(service);
  if (service.child.exitCode !== null || service.child.signalCode !== null) return;
  service.child.kill('SIGTERM');
  const timer = setTimeout(() => service.child.kill('SIGKILL'), 10_000);
  try {
    await service.exited;
  } finally {
    clearTimeout(timer);
  }
}

function handle(
  service: SpawnedService,
  baseUrl: string,
  port: number,
  adminToken: string,
  seed: SandboxSeed,
  dir: string,
): MetaSandbox {
  let stopping: Promise<void> | undefined;
  const control = createControl(baseUrl, adminToken, seed);
  return {
    baseUrl,
    port,
    pid: service.child.pid ?? -1,
    adminToken,
    seed,
    graphUrl: (version = 'v23.0') => `${baseUrl}/${version}`,
    control,
    output: () => service.output(),
    stop() {
      stopping ??= stopProcess(service).finally(() => rmSync(dir, { recursive: true, force: true }));
      return stopping;
    },
  };
}

function createControl(baseUrl: string, adminToken: string, seed: SandboxSeed): SandboxControl {
  const firstNumber = seed.wabas?.flatMap((w) => w.phoneNumbers ?? [])[0]?.id;
  const firstWaba = seed.wabas?.[0]?.id;
  const wabaOr = (given: string | undefined) => {
    const id = given ?? firstWaba;
    if (!id) throw new Error('meta-sandbox control: the seed has no WABA with an id; pass wabaId');
    return id;
  };
  const numberOr = (given: string | undefined) => {
    const id = given ?? firstNumber;
    if (!id)
      throw new Error('meta-sandbox control: the seed has no phone number with an id; pass phoneNumberId');
    return id;
  };
  const request = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${baseUrl}/_sandbox${path}`, {
      method,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) {
      let detail = text.slice(0, 500);
      try {
        const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
        if (parsed.error?.message) detail = `${parsed.error.code ?? ''} ${parsed.error.message}`.trim();
      } catch {
        // not JSON: keep the raw text
      }
      throw new Error(
        `meta-sandbox control ${method} /_sandbox${path} answered ${response.status}: ${detail}; see docs/meta-sandbox.md (Control API) for the call's body`,
      );
    }
    return (text ? JSON.parse(text) : undefined) as T;
  };
  const query = (params: Record<string, string | number | undefined>) => {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined) search.set(k, String(v));
    const s = search.toString();
    return s ? `?${s}` : '';
  };
  const inbound: SandboxControl['inbound'] = (input) =>
    request('POST', '/inbound', {
      phoneNumberId: numberOr(input.phoneNumberId),
      from: input.from.replace(/^\+/, ''),
      ...(input.name === undefined ? {} : { name: input.name }),
      messages: input.messages,
    });
  return {
    inbound,
    async inboundText(from, text, options = {}) {
      const { ids } = await inbound({ from, messages: [{ kind: 'text', text }], ...options });
      return ids[0] as string;
    },
    async userPreferences(input) {
      await request('POST', '/user-preferences', {
        phoneNumberId: numberOr(input.phoneNumberId),
        waId: input.waId.replace(/^\+/, ''),
        value: input.value,
      });
    },
    async setTemplateStatus(templateId, status, reason) {
      await request('POST', `/templates/${encodeURIComponent(templateId)}/status`, {
        status,
        ...(reason === undefined ? {} : { reason }),
      });
    },
    setPhoneNumberQuality({ phoneNumberId, ...body }) {
      return request('POST', `/phone-numbers/${encodeURIComponent(numberOr(phoneNumberId))}/quality`, body);
    },
    accountUpdate({ wabaId, ...body }) {
      return request('POST', `/wabas/${encodeURIComponent(wabaOr(wabaId))}/account-update`, body);
    },
    capabilityUpdate({ wabaId, ...body }) {
      return request('POST', `/wabas/${encodeURIComponent(wabaOr(wabaId))}/capability`, body);
    },
    setTemplateQuality: (templateId, quality) =>
      request('POST', `/templates/${encodeURIComponent(templateId)}/quality`, { quality }),
    setCustomer: (waId, patch) =>
      request('PUT', `/customers/${encodeURIComponent(waId.replace(/^\+/, ''))}`, patch),
    mintOAuthCode(input) {
      const appId = input.appId ?? seed.apps?.[0]?.id;
      if (!appId) throw new Error('meta-sandbox control: the seed has no app with an id; pass appId');
      return request('POST', '/oauth-codes', { appId, wabaIds: input.wabaIds });
    },
    async setAppWebhook(appId, input) {
      await request('PUT', `/apps/${encodeURIComponent(appId)}/webhook`, input);
    },
    async revokeToken(value) {
      await request('POST', `/tokens/${encodeURIComponent(value)}/revoke`);
    },
    applySeed: (more) => request('POST', '/world', more),
    async sentMessages(filter = {}) {
      const answer = await request<{ messages: SandboxSentMessage[] }>(
        'GET',
        `/messages${query({ phoneNumberId: filter.phoneNumberId, to: filter.to })}`,
      );
      return answer.messages;
    },
    async inboundMessages(filter = {}) {
      const answer = await request<{ messages: SandboxInboundRecord[] }>(
        'GET',
        `/inbound${query({ phoneNumberId: filter.phoneNumberId })}`,
      );
      return answer.messages;
    },
    webhooks: (limit) => request('GET', `/webhooks${query({ limit })}`),
    setFaults: (faults) => request('PUT', '/faults', faults),
    setTimings: (timings) => request('PUT', '/timings', timings),
    async reset() {
      await request('POST', '/reset');
    },
    request: (method, path, body) => request(method, path, body),
  };
}
