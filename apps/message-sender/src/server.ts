import { runService } from '@wapi/service-kit';
import { createMongoClient } from '@wapi/store';
import { createVaultClient } from '@wapi/vault-client';
import { buildApp } from './app';
import { configSchema, SERVICE } from './config';
import { createDirectoryCache } from './directory';
import { fileTokenSource, type TokenSource, vaultTokenSource } from './tokens';

await runService({
  service: SERVICE,
  configSchema,
  async start({ config, log, own, redis }) {
    const mongo = own('mongodb', createMongoClient(config.MONGO_URL, `wapi-${SERVICE}`), (m) => m.close());
    // Commands issued in one tick leave in one socket write: at 1,000 messages/s the
    // separate writes of a dozen commands per message were the largest cost after GC
    // (CPU profile, docs/performance.md).
    const request = redis('request', { enableAutoPipelining: true });
    // One cache of gateway's directory for pacing and the token source.
    const directory = createDirectoryCache(request, config.KEY_PREFIX, config.SENDER_DIRECTORY_CACHE_MS);
    let tokens: TokenSource;
    let auth: Parameters<typeof createVaultClient>[0]['auth'] | undefined;
    const app = await buildApp({
      config,
      log,
      redis: request,
      db: mongo.db(config.MONGO_DB),
      sending: {
        workerConnection: redis('worker'),
        directory,
        tokens: {
          get: (ws, pnid, fresh) => tokens.get(ws, pnid, fresh),
        },
      },
    });
    auth = app.internalAuth;
    if (config.META_ACCESS_TOKEN_FILE) {
      tokens = fileTokenSource(config.META_ACCESS_TOKEN_FILE);
    } else {
      if (!auth)
        throw new Error('message-sender: internal auth is not configured; set INTERNAL_AUTH_PRIVATE_KEY');
      const vault = own(
        'vault client',
        createVaultClient({
          baseUrl: config.VAULT_URL,
          auth,
          subscriber: redis('worker'),
          prefix: config.KEY_PREFIX,
          cacheTtlMs: config.TOKEN_CACHE_MS,
        }),
        (v) => v.close(),
      );
      tokens = vaultTokenSource(vault, directory, config.KEY_PREFIX);
    }
    return app;
  },
});
