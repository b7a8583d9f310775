import { createMetaClient } from '@wapi/meta-client';
import { createProducer, type ServiceApp } from '@wapi/service-kit';
import type { VaultClient } from '@wapi/vault-client';
import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { ComplianceClient } from '../data/compliance-client';
import type { WorkspaceRepositories } from '../data/workspaces.repository';
import { type NumberUpdate, registerAccountUpdateWorker } from '../templates/account-updates';
import { registerTemplateRoutes } from '../templates/routes';
import { templateStore } from '../templates/store';
import { type MetaClient, templateSync } from '../templates/sync';
import { registerContactRoutes } from './contact-routes';
import { registerContactImport } from './csv-import';
import { groupCommit } from './group-commit';
import { sendCaches } from './hot-cache';
import { registerLiveEvents } from './live-events';
import { registerMessageRoutes } from './message-routes';
import { messageOutbox } from './outbox';
import type { MessagingRepositories } from './repositories';
import { registerMessagingWorkers } from './workers';

export interface MessagingDeps {
  config: Config;
  db: Db;
  redis: Redis;
  /** When given, the event and account-update workers and the periodic jobs run here. */
  workerRedis?: Redis | undefined;
  repos: MessagingRepositories;
  members: WorkspaceRepositories['members'];
  compliance: ComplianceClient;
  vault: Pick<VaultClient, 'get'>;
  /** A Graph client to share; one is created from GRAPH_* otherwise. */
  meta?: MetaClient;
  /** Applies `phone_quality`, `account` and `capability` account updates (number health). */
  onNumberUpdate?: (update: NumberUpdate) => Promise<void>;
  now(): Date;
}

/**
 * Contacts, sending and reading messages, templates, the live events, the outbox sweep, and
 * (with `workerRedis`) the workers of `message.events.v1`, `message.inbound.v1` and
 * `account.update.v1` with the periodic template sync.
 */
export function registerMessaging(app: ServiceApp, deps: MessagingDeps): void {
  const { config, repos, now } = deps;
  const prefix = config.KEY_PREFIX;
  const log = app.log as Logger;
  // Created on the first send, so building the app opens no queue.
  let sends: ReturnType<typeof createProducer<'message.send.v1'>> | undefined;
  const sendQueue = () => {
    sends ??= createProducer('message.send.v1', { connection: deps.redis, prefix, log });
    return sends;
  };
  // Closed here only when created here (a shared one is its creator's to close).
  const ownMeta = deps.meta
    ? undefined
    : createMetaClient({
        baseUrl: config.GRAPH_BASE_URL,
        version: config.GRAPH_VERSION,
        timeoutMs: config.GRAPH_TIMEOUT_MS,
      });
  const meta = deps.meta ?? (ownMeta as MetaClient);
  const templates = templateStore(deps.db, deps.redis, prefix);
  const sync = templateSync({ store: templates, repos, meta, vault: deps.vault, now });
  const outbox = messageOutbox({ redis: deps.redis, prefix, repos, sendQueue, now });
  const commit = groupCommit({ repos, outbox });
  const caches = sendCaches();

  registerContactRoutes(app, {
    repos,
    compliance: deps.compliance,
    members: deps.members,
    caches,
    redis: deps.redis,
    prefix,
    now,
  });
  registerContactImport(app, { repos, now });
  registerMessageRoutes(app, {
    repos,
    redis: deps.redis,
    prefix,
    compliance: deps.compliance,
    outbox,
    templates,
    commit,
    caches,
    now,
  });
  registerTemplateRoutes(app, { store: templates, sync, meta, now });
  registerLiveEvents(app, { redis: deps.redis, prefix, repos });

  const timers: NodeJS.Timeout[] = [];
  app.addHook('onClose', async () => {
    for (const t of timers) clearInterval(t);
    await sends?.close();
    ownMeta?.close();
  });
  if (!deps.workerRedis) return;
  registerMessagingWorkers(app, { repos, connection: deps.workerRedis, prefix, log, now });
  registerAccountUpdateWorker(app, {
    store: templates,
    connection: deps.workerRedis,
    prefix,
    log,
    ...(deps.onNumberUpdate ? { onNumberUpdate: deps.onNumberUpdate } : {}),
  });
  // Periodic jobs: every instance ticks, a Redis lock lets one of them work per tick.
  app.addHook('onReady', async () => {
    if (config.OUTBOX_SWEEP_INTERVAL_MS > 0) {
      timers.push(
        setInterval(() => {
          outbox
            .sweep()
            .catch((error: unknown) => log.warn({ err: error }, 'outbox sweep failed; retried next tick'));
        }, config.OUTBOX_SWEEP_INTERVAL_MS).unref(),
      );
    }
    if (config.TEMPLATE_SYNC_INTERVAL_MS > 0) {
      timers.push(
        setInterval(() => {
          sync
            .syncAll(deps.redis, prefix, Math.floor(config.TEMPLATE_SYNC_INTERVAL_MS * 0.9), log)
            .catch((error: unknown) => log.warn({ err: error }, 'template sync failed; retried next tick'));
        }, config.TEMPLATE_SYNC_INTERVAL_MS).unref(),
      );
    }
  });
}
