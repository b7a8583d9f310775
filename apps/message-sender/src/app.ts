import {
  createInternalAuth,
  createProducer,
  createService,
  type Producer,
  parseInternalKeys,
  redisCheck,
  type ServiceApp,
} from '@wapi/service-kit';
import { mongoCheck } from '@wapi/store';
import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import pkg from '../package.json' with { type: 'json' };
import { type Config, SERVICE } from './config';
import { createDeadLetters, registerDeadLetterRoutes } from './dead-letters';
import { createRedisState } from './redis-state';
import { type Sending, type SendingDeps, startSending } from './worker';

const sendings = new WeakMap<ServiceApp, Sending>();

/** The send worker of an app built with `sending` (its worker, Redis state and metrics). */
export function sendingOf(app: ServiceApp): Sending | undefined {
  return sendings.get(app);
}

export interface AppDeps {
  config: Config;
  /** A `request`-role connection (fails fast while Redis is down). */
  redis: Redis;
  db: Db;
  /** The service's logger (runService passes its one logger; tests may pass one writing to a stream). */
  log?: Logger;
  /** The send worker's own dependencies; without them the app serves only health and metrics. */
  sending?: Pick<SendingDeps, 'workerConnection' | 'tokens' | 'directory' | 'random' | 'now'>;
}

/** Builds message-sender: no I/O at import, every dependency passed in. */
export async function buildApp(deps: AppDeps): Promise<ServiceApp> {
  const app = createService({
    service: SERVICE,
    version: pkg.version,
    logLevel: deps.config.LOG_LEVEL,
    readinessTimeoutMs: deps.config.READINESS_TIMEOUT_MS,
    checks: [redisCheck(deps.redis), mongoCheck(deps.db)],
    // Parsed here, so a malformed key stops start-up naming its variable.
    internalAuth: createInternalAuth({ service: SERVICE, keys: parseInternalKeys(SERVICE, deps.config) }),
    ...(deps.log ? { log: deps.log } : {}),
  });
  // The dead-letter list reads the queue itself (it works without this instance's worker).
  // Opened on first use: a BullMQ Queue on the request connection would otherwise run its
  // own commands (and report their failures) on every instance, listed or not.
  let sendQueue: Producer<'message.send.v1'> | undefined;
  const queue = () => {
    sendQueue ??= createProducer('message.send.v1', {
      connection: deps.redis,
      prefix: deps.config.KEY_PREFIX,
      log: app.log as unknown as Logger,
    });
    return sendQueue.queue;
  };
  app.addHook('onClose', async () => {
    await sendQueue?.close();
  });
  registerDeadLetterRoutes(
    app,
    createDeadLetters(
      queue,
      deps.redis,
      createRedisState(deps.redis, deps.config.KEY_PREFIX),
      deps.config.KEY_PREFIX,
    ),
  );
  if (deps.sending)
    sendings.set(
      app,
      startSending(app, {
        ...deps.sending,
        config: deps.config,
        redis: deps.redis,
        db: deps.db,
        log: deps.log ?? (app.log as unknown as Logger),
      }),
    );
  return app;
}
