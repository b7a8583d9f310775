import { createHash, randomBytes } from 'node:crypto';
import { AppError, keyOf, PLATFORM_WORKSPACE_ID } from '@wapi/contracts';
import type { createMetaClient } from '@wapi/meta-client';
import type { VaultClient } from '@wapi/vault-client';
import type { Redis } from 'ioredis';
import {
  ONBOARDING_STEPS,
  type OnboardingRecord,
  type OnboardingStep,
  type StepOutcome,
  type WorkspaceRepositories,
} from '../data/workspaces.repository';
import type { PhoneDirectory } from '../messaging/directory';
import type { NumberRecord, NumberRepositories } from '../numbers/store';
import { messagingLimitOf, throughputOf } from '../numbers/tiers';

type MetaClient = ReturnType<typeof createMetaClient>;

/** How long a state value from `start` may be used (Meta's flow takes a customer minutes). */
export const STATE_TTL_SECONDS = 15 * 60;
/** One run of the steps at a time per workspace; longer than the Graph calls can take. */
const RUN_LOCK_MS = 120_000;

/** The fields read from the number's node after registration (§8.5, §5.1, §5.3). */
export const NUMBER_FIELDS = [
  'display_phone_number',
  'verified_name',
  'quality_rating',
  'whatsapp_business_manager_messaging_limit',
  'messaging_limit_tier',
  'throughput',
  'status',
];

export interface EsbDeps {
  /** `META_APP_ID` and `META_ESB_CONFIG_ID`; an empty app id means onboarding is not configured. */
  appId: string;
  configId: string;
  graphVersion: string;
  redis: Redis;
  prefix: string;
  tenancy: WorkspaceRepositories;
  numbers: NumberRepositories['numbers'];
  directory: Pick<PhoneDirectory, 'publish'>;
  vault: Pick<VaultClient, 'get' | 'put'>;
  meta: Pick<MetaClient, 'exchangeCode' | 'subscribeApp' | 'registerNumber' | 'getPhoneNumber'>;
  now(): Date;
}

/** What a step run may be given: a fresh code (only the exchange needs one) and the PIN. */
interface StepInputs {
  code?: string | undefined;
  pin?: string | undefined;
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('base64url');
const pending = (): StepOutcome => ({ status: 'pending', at: null, error: null, attempts: 0 });

/** Meta's refusal as a step's error text: code and message, never the request (it holds the token). */
function reasonOf(error: unknown): string {
  if (error instanceof AppError) return error.message;
  const meta = error as { code?: unknown; message?: unknown; name?: unknown };
  if (meta?.name === 'MetaApiError')
    return `Meta answered (#${String(meta.code)}) ${String(meta.message)}`.slice(0, 500);
  return `the call failed (${error instanceof Error ? error.message : 'unknown error'}); retry`.slice(0, 500);
}

/**
 * Embedded Signup after Meta's front-end flow (docs/meta-platform.md §8.1): a state value
 * binds the flow to the workspace and user that started it; the callback exchanges the code
 * and then runs the steps, recording each one's outcome on the workspace so that a retry
 * runs only what has not succeeded.
 */
export function createEmbeddedSignup(deps: EsbDeps) {
  const stateKey = (state: string) => keyOf(deps.prefix, 'gw-onboarding', 'state', sha256(state));
  const lockKey = (ws: string) => keyOf(deps.prefix, 'gw-onboarding', 'run', ws);

  function assertConfigured(): void {
    if (!deps.appId)
      throw new AppError(
        'ONBOARDING_NOT_CONFIGURED',
        'Embedded Signup is not configured on this gateway: set META_APP_ID (and META_ESB_CONFIG_ID) and store the app secret in vault, then restart.',
      );
  }

  async function appSecret(): Promise<string> {
    try {
      return await deps.vault.get(PLATFORM_WORKSPACE_ID, 'meta.app_secret', deps.appId);
    } catch (error) {
      if (error instanceof AppError && error.code === 'VAULT_SECRET_NOT_FOUND')
        throw new AppError(
          'ONBOARDING_NOT_CONFIGURED',
          `The Meta app secret is not in vault: store it (workspace ${PLATFORM_WORKSPACE_ID}, purpose meta.app_secret, record ${deps.appId}) and retry.`,
        );
      throw error;
    }
  }

  async function record(ws: string): Promise<OnboardingRecord | undefined> {
    const doc = await deps.tenancy.workspaces.findOne({ _id: ws });
    return doc?.onboarding;
  }

  async function save(ws: string, onboarding: OnboardingRecord): Promise<void> {
    await deps.tenancy.workspaces.updateOne({ _id: ws }, { $set: { onboarding } });
  }

  /** Runs every step that has not succeeded, in order; a step whose input is missing stays pending. */
  async function runSteps(
    ws: string,
    onboarding: OnboardingRecord,
    inputs: StepInputs,
  ): Promise<OnboardingRecord> {
    const lock = lockKey(ws);
    const owner = randomBytes(9).toString('base64url');
    if ((await deps.redis.set(lock, owner, 'PX', RUN_LOCK_MS, 'NX')) !== 'OK')
      throw new AppError(
        'ONBOARDING_IN_PROGRESS',
        "This workspace's onboarding steps are running now; read GET /api/v1/onboarding/esb and retry when it is done.",
      );
    try {
      const steps = { ...onboarding.steps };
      const { wabaId, phoneNumberId, businessId } = onboarding;
      const attempt = async (step: OnboardingStep, work: () => Promise<void>) => {
        if (steps[step].status === 'succeeded') return;
        const attempts = steps[step].attempts + 1;
        try {
          await work();
          steps[step] = { status: 'succeeded', at: deps.now(), error: null, attempts };
        } catch (error) {
          steps[step] = { status: 'failed', at: deps.now(), error: reasonOf(error), attempts };
        }
      };

      let token: string | undefined;
      await attempt('tokenExchanged', async () => {
        if (!inputs.code)
          throw new AppError(
            'VALIDATION_FAILED',
            "The code from Meta's flow is single-use and valid 30 s: run the flow again and retry with its new code.",
          );
        const exchanged = await deps.meta.exchangeCode(deps.appId, await appSecret(), inputs.code);
        token = exchanged.access_token;
        // Stored before anything else uses it: the number never works without its credential.
        await deps.vault.put(ws, 'meta.access_token', phoneNumberId, token);
      });
      if (steps.tokenExchanged.status === 'succeeded') {
        const tokenNow = async () => {
          token ??= await deps.vault.get(ws, 'meta.access_token', phoneNumberId);
          return token;
        };
        await attempt('webhooksSubscribed', async () => {
          await deps.meta.subscribeApp(await tokenNow(), wabaId);
        });
        await attempt('phoneRegistered', async () => {
          if (!inputs.pin)
            throw new AppError(
              'VALIDATION_FAILED',
              'Registering the number needs its 6-digit two-step verification PIN: retry with { "pin": "123456" }.',
            );
          await deps.meta.registerNumber(await tokenNow(), phoneNumberId, inputs.pin);
        });
        await attempt('metadataFetched', async () => {
          const info = await deps.meta.getPhoneNumber(await tokenNow(), phoneNumberId, NUMBER_FIELDS);
          await connectNumber(ws, wabaId, phoneNumberId, info, businessId);
        });
      }
      const next = { ...onboarding, steps };
      await save(ws, next);
      return next;
    } finally {
      // Only our own lock: a run that outlived it must not free the next run's.
      if ((await deps.redis.get(lock)) === owner) await deps.redis.del(lock);
    }
  }

  /** Creates or refreshes the number's record from Graph's answer and publishes its directory entry. */
  async function connectNumber(
    ws: string,
    wabaId: string,
    phoneNumberId: string,
    info: Awaited<ReturnType<MetaClient['getPhoneNumber']>>,
    businessId: string | undefined,
  ): Promise<void> {
    const now = deps.now();
    const tier = info.whatsapp_business_manager_messaging_limit ?? info.messaging_limit_tier ?? null;
    const limit = messagingLimitOf(tier);
    const facts = {
      wabaId,
      displayPhoneNumber: info.display_phone_number ?? phoneNumberId,
      verifiedName: info.verified_name ?? null,
      status: 'connected' as const,
      qualityRating: info.quality_rating ?? null,
      messagingLimitTier: tier,
      throughputMps: throughputOf(info.throughput?.level) ?? 80,
      ...(limit !== undefined ? { messagingLimit: limit } : {}),
      ...(businessId ? { businessId } : {}),
      syncedAt: now,
    };
    const inserted = await deps.numbers.insertOnce({
      _id: phoneNumberId,
      workspaceId: ws,
      connectedAt: now,
      ...facts,
    });
    if (!inserted) {
      const updated = await deps.numbers.updateOne({ _id: phoneNumberId, workspaceId: ws }, { $set: facts });
      if (updated.matched === 0)
        throw new AppError('PHONE_NUMBER_TAKEN', 'This number is connected to another workspace.');
    }
    const stored = (await deps.numbers.findOne({
      _id: phoneNumberId,
      workspaceId: ws,
    })) as NumberRecord | null;
    if (stored) await deps.directory.publish(stored);
  }

  return {
    /** A state value bound to (workspace, user), valid STATE_TTL_SECONDS, usable once. */
    async start(ws: string, userId: string) {
      assertConfigured();
      const state = randomBytes(32).toString('base64url');
      const expiresAt = new Date(deps.now().getTime() + STATE_TTL_SECONDS * 1000);
      // Stored by its hash: a Redis dump does not hand out usable states.
      await deps.redis.set(stateKey(state), JSON.stringify({ ws, userId }), 'EX', STATE_TTL_SECONDS);
      return {
        appId: deps.appId,
        configId: deps.configId,
        graphVersion: deps.graphVersion,
        state,
        expiresAt: expiresAt.toISOString(),
      };
    },

    async callback(
      ws: string,
      userId: string,
      input: {
        state: string;
        code: string;
        wabaId: string;
        phoneNumberId: string;
        businessId?: string | undefined;
        pin?: string | undefined;
      },
    ): Promise<OnboardingRecord> {
      assertConfigured();
      // Before the state is spent: a missing secret is the operator's to fix, not a reason
      // to make the customer run Meta's flow again.
      await appSecret();
      const key = stateKey(input.state);
      const bound = await deps.redis.get(key);
      const invalid = (why: string) =>
        new AppError(
          'ONBOARDING_STATE_INVALID',
          `This state value ${why}; start again with POST /api/v1/onboarding/esb/start.`,
        );
      if (!bound) throw invalid('is unknown, expired or already used');
      const owner = JSON.parse(bound) as { ws: string; userId: string };
      // Not spent by a foreign caller: the rightful one may still use it.
      if (owner.ws !== ws || owner.userId !== userId)
        throw invalid('was issued to another user or workspace');
      // Single use: of two callbacks with one state, exactly one deletes it.
      if ((await deps.redis.del(key)) !== 1) throw invalid('is unknown, expired or already used');
      const existing = await deps.numbers.findOne({ _id: input.phoneNumberId });
      if (existing && existing.workspaceId !== ws) throw new AppError('PHONE_NUMBER_TAKEN');
      const onboarding: OnboardingRecord = {
        wabaId: input.wabaId,
        phoneNumberId: input.phoneNumberId,
        ...(input.businessId ? { businessId: input.businessId } : {}),
        userId,
        startedAt: deps.now(),
        steps: Object.fromEntries(ONBOARDING_STEPS.map((s) => [s, pending()])) as OnboardingRecord['steps'],
      };
      await save(ws, onboarding);
      return runSteps(ws, onboarding, { code: input.code, pin: input.pin });
    },

    /** Runs again only the steps that have not succeeded. */
    async retry(ws: string, inputs: StepInputs): Promise<OnboardingRecord> {
      assertConfigured();
      const onboarding = await record(ws);
      if (!onboarding)
        throw new AppError(
          'NOT_FOUND',
          'This workspace has no Embedded Signup to retry; start one with POST /api/v1/onboarding/esb/start.',
        );
      return runSteps(ws, onboarding, inputs);
    },

    async status(ws: string): Promise<OnboardingRecord> {
      const onboarding = await record(ws);
      if (!onboarding)
        throw new AppError(
          'NOT_FOUND',
          'This workspace has no Embedded Signup yet; start one with POST /api/v1/onboarding/esb/start.',
        );
      return onboarding;
    },
  };
}
export type EmbeddedSignup = ReturnType<typeof createEmbeddedSignup>;
