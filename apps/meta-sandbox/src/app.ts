import { readFileSync } from 'node:fs';
import { Value } from '@sinclair/typebox/value';
import { createService, redisCheck, type ServiceApp } from '@wapi/service-kit';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import pkg from '../package.json' with { type: 'json' };
import { type Config, SERVICE } from './config';
import { applySeed, Seed } from './domain/seed';
import { controlRoutes } from './routes/control';
import { graphRoutes } from './routes/graph';
import { uiRoutes } from './routes/ui';
import { createSandbox } from './sandbox';
import { verifySeedCallbacks } from './webhooks/app-callback';

export interface AppDeps {
  config: Config;
  /** A `request`-role connection (fails fast while Redis is down). */
  redis: Redis;
  /** The service's logger (runService passes its one logger). */
  log?: Logger;
  /** Clock (ms since epoch) for windows, limiters and timestamps; tests inject one. */
  now?: () => number;
  /** Initial world; overrides SANDBOX_SEED_FILE. */
  seed?: Seed;
}

function readSeedFile(path: string): Seed {
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (!Value.Check(Seed, parsed)) {
    const first = Value.Errors(Seed, parsed).First();
    throw new Error(`SANDBOX_SEED_FILE ${path} is invalid at ${first?.path ?? '/'}: ${first?.message ?? ''}`);
  }
  return parsed;
}

/**
 * Builds meta-sandbox: no I/O at import, every dependency passed in. Its emulated Meta
 * state lives in memory (it stands in for Meta, it owns no wapi data); Redis is only a
 * readiness dependency kept for parity with the other services.
 */
export async function buildApp(deps: AppDeps): Promise<ServiceApp> {
  const app = createService({
    service: SERVICE,
    version: pkg.version,
    logLevel: deps.config.LOG_LEVEL,
    readinessTimeoutMs: deps.config.READINESS_TIMEOUT_MS,
    checks: [redisCheck(deps.redis)],
    ...(deps.log ? { log: deps.log } : {}),
  });
  const sandbox = createSandbox({ config: deps.config, ...(deps.now ? { now: deps.now } : {}) });
  const seed =
    deps.seed ?? (deps.config.SANDBOX_SEED_FILE ? readSeedFile(deps.config.SANDBOX_SEED_FILE) : undefined);
  if (seed) {
    // §3.1: seeded callback URLs with a verify token pass the GET handshake first (the receiver
    // must be up before the sandbox starts); the refusal stops the start-up.
    const refusal = await verifySeedCallbacks(sandbox.engine, seed.apps ?? []);
    if (refusal) {
      sandbox.close();
      await app.close();
      throw new Error(`Seed refused: ${refusal}`);
    }
    applySeed(sandbox.world, seed, sandbox.clock.now(), {
      throughputMps: deps.config.SANDBOX_THROUGHPUT_MPS,
    });
  }
  app.addHook('onClose', async () => sandbox.close());

  // Each plugin gets only the collaborators it uses (the Sandbox is never passed whole).
  const { world, clock, engine, webhooks, progression, review } = sandbox;
  const adminToken = deps.config.SANDBOX_ADMIN_TOKEN;
  const publicUrl = deps.config.SANDBOX_PUBLIC_URL;
  await app.register(controlRoutes, {
    prefix: '/_sandbox',
    world,
    clock,
    webhooks,
    engine,
    progression,
    faults: sandbox.faults,
    adminToken,
    publicUrl,
    standardMps: deps.config.SANDBOX_THROUGHPUT_MPS,
    reset: sandbox.reset,
  });
  await app.register(uiRoutes, { prefix: '/_sandbox', world, adminToken });
  await app.register(graphRoutes, {
    world,
    clock,
    policy: sandbox.policy,
    progression,
    webhooks,
    verifier: engine,
    review,
    publicUrl,
  });
  return app;
}
