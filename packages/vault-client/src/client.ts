import { Value } from '@sinclair/typebox/value';
import {
  AppError,
  type DeleteSecretResponse,
  ERRORS,
  type ErrorCode,
  SecretChanged,
  type SecretListResponse,
  type SecretMetadata,
  type SecretValueResponse,
  secretPath,
  type VaultPurpose,
  vaultInvalidationChannel,
} from '@wapi/contracts';
import type { InternalAuth } from '@wapi/service-kit';
import type { Redis } from 'ioredis';

export interface VaultClientOptions {
  /** Where vault answers, e.g. `http://vault:7104`. */
  baseUrl: string;
  /** The calling service's internal auth: every call carries `headerFor('vault')`. */
  auth: Pick<InternalAuth, 'headerFor'>;
  /**
   * A Redis connection of its own, put into subscriber mode by the client, on which vault
   * announces changed secrets. Without it nothing is cached: a cache that cannot hear about
   * rotations could serve a rotated token.
   */
  subscriber?: Redis;
  /** `KEY_PREFIX` of the deployment (vault publishes under it). */
  prefix: string;
  /** How long a read value may be served from memory (default 30,000 ms; 0: never cached). */
  cacheTtlMs?: number;
  /** Most values kept; the oldest go first (default 10,000). */
  maxEntries?: number;
  /** Per-read timeout (default 2,000 ms). */
  timeoutMs?: number;
  /** Per-write timeout (default 10,000 ms): a write waits on the database, a read rarely does. */
  writeTimeoutMs?: number;
  /** Clock in ms (tests inject one). */
  now?: () => number;
}

/** The client other services use to reach vault. */
export interface VaultClient {
  /** The value of a secret: from the cache while fresh and unchanged, else from vault. */
  get(workspaceId: string, purpose: VaultPurpose, recordId: string): Promise<string>;
  /** The value with its metadata, always from vault (not cached). */
  read(workspaceId: string, purpose: VaultPurpose, recordId: string): Promise<SecretValueResponse>;
  put(workspaceId: string, purpose: VaultPurpose, recordId: string, value: string): Promise<SecretMetadata>;
  rotate(
    workspaceId: string,
    purpose: VaultPurpose,
    recordId: string,
    value: string,
  ): Promise<SecretMetadata>;
  /** False when there was nothing to delete. */
  delete(workspaceId: string, purpose: VaultPurpose, recordId: string): Promise<boolean>;
  list(workspaceId: string): Promise<SecretMetadata[]>;
  /** Resolves once the client listens for changes (caching is off until then). */
  ready(): Promise<void>;
  /** Drops every cached value (also done when the change feed is lost). */
  clear(): void;
  /** Unsubscribes and drops the cache; the subscriber connection stays the caller's to close. */
  close(): Promise<void>;
}

interface Entry {
  value: string;
  expiresAt: number;
}

const cacheKey = (ws: string, purpose: string, recordId: string) => JSON.stringify([ws, purpose, recordId]);

/**
 * A typed client for vault's internal API with a short read cache.
 *
 * A rotated value is never served after its rotation was acknowledged to the writer: vault
 * publishes the change before it answers, each instance drops its copy when the message
 * arrives, a read already in flight when a change arrives is not cached, and a lost change
 * feed (the subscriber connection drops) empties the cache and turns caching off until it
 * is back. Messages take one Redis hop, so an instance that did not write may serve the old
 * value for that hop's duration (well under a millisecond on a healthy Redis).
 */
export function createVaultClient(options: VaultClientOptions): VaultClient {
  const ttl = options.cacheTtlMs ?? 30_000;
  const maxEntries = options.maxEntries ?? 10_000;
  const timeoutMs = options.timeoutMs ?? 2_000;
  const writeTimeoutMs = options.writeTimeoutMs ?? 10_000;
  const now = options.now ?? Date.now;
  const base = options.baseUrl.replace(/\/+$/, '');
  const channel = vaultInvalidationChannel(options.prefix);
  const cache = new Map<string, Entry>();
  /** Bumped on every change of a key; a read caches only if its key's count did not move. */
  const changes = new Map<string, number>();
  /** Bumped whenever the feed is lost: a read started before caches nothing. */
  let epoch = 0;
  let listening = false;
  const subscriber = options.subscriber;

  const drop = (key: string) => {
    cache.delete(key);
    changes.set(key, (changes.get(key) ?? 0) + 1);
    // Keep the change counters bounded: a counter only matters while a read is in flight.
    if (changes.size > maxEntries * 2) changes.clear();
  };
  const clear = () => {
    cache.clear();
    changes.clear();
    epoch++;
  };

  const onMessage = (from: string, message: string) => {
    if (from !== channel) return;
    let change: unknown;
    try {
      change = JSON.parse(message);
    } catch {
      clear(); // unreadable: be safe
      return;
    }
    if (!Value.Check(SecretChanged, change)) {
      clear();
      return;
    }
    drop(cacheKey(change.workspaceId, change.purpose, change.recordId));
  };
  const onLost = () => {
    listening = false;
    clear();
  };
  let subscribing: Promise<void> | undefined;
  const subscribe = (): Promise<void> => {
    if (!subscriber) return Promise.resolve();
    subscribing ??= subscriber
      .subscribe(channel)
      .then(() => {
        listening = true;
      })
      .finally(() => {
        subscribing = undefined;
      });
    return subscribing;
  };
  const onReady = () => {
    // ioredis re-subscribes by itself after a reconnect; subscribing again confirms it
    // before caching resumes.
    subscribe().catch(() => undefined);
  };
  if (subscriber) {
    subscriber.on('message', onMessage);
    subscriber.on('close', onLost);
    subscriber.on('end', onLost);
    subscriber.on('ready', onReady);
    if (subscriber.status === 'ready') onReady();
  }

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: options.auth.headerFor('vault'),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(method === 'GET' ? timeoutMs : writeTimeoutMs),
      });
    } catch (error) {
      throw new AppError(
        'DEPENDENCY_UNAVAILABLE',
        `vault did not answer ${method} ${path.replace(/\/secrets\/.*/, '/secrets/…')} (${(error as Error).name}); retry later`,
      );
    }
    const text = await res.text();
    if (res.ok) return JSON.parse(text) as T;
    let code: ErrorCode = res.status >= 500 ? 'DEPENDENCY_UNAVAILABLE' : 'BAD_REQUEST';
    let message = `vault answered ${res.status}`;
    try {
      const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
      if (parsed.error?.code && parsed.error.code in ERRORS) {
        code = parsed.error.code as ErrorCode;
        message = parsed.error.message ?? message;
      }
    } catch {
      // not our envelope: keep the generic code
    }
    throw new AppError(code, message);
  }

  const cacheable = () => ttl > 0 && listening;

  return {
    async get(ws, purpose, recordId) {
      const key = cacheKey(ws, purpose, recordId);
      const hit = cache.get(key);
      if (hit && hit.expiresAt > now() && cacheable()) return hit.value;
      if (hit) cache.delete(key);
      const startedEpoch = epoch;
      const startedChanges = changes.get(key) ?? 0;
      const secret = await call<SecretValueResponse>('GET', secretPath(ws, purpose, recordId));
      if (cacheable() && epoch === startedEpoch && (changes.get(key) ?? 0) === startedChanges) {
        if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
        cache.set(key, { value: secret.value, expiresAt: now() + ttl });
      }
      return secret.value;
    },
    read: (ws, purpose, recordId) => call<SecretValueResponse>('GET', secretPath(ws, purpose, recordId)),
    async put(ws, purpose, recordId, value) {
      drop(cacheKey(ws, purpose, recordId));
      try {
        return await call<SecretMetadata>('PUT', secretPath(ws, purpose, recordId), { value });
      } finally {
        drop(cacheKey(ws, purpose, recordId));
      }
    },
    async rotate(ws, purpose, recordId, value) {
      drop(cacheKey(ws, purpose, recordId));
      try {
        return await call<SecretMetadata>('POST', `${secretPath(ws, purpose, recordId)}/rotate`, { value });
      } finally {
        drop(cacheKey(ws, purpose, recordId));
      }
    },
    async delete(ws, purpose, recordId) {
      drop(cacheKey(ws, purpose, recordId));
      try {
        return (await call<DeleteSecretResponse>('DELETE', secretPath(ws, purpose, recordId))).deleted;
      } finally {
        drop(cacheKey(ws, purpose, recordId));
      }
    },
    async list(ws) {
      return (
        await call<SecretListResponse>('GET', `/internal/v1/workspaces/${encodeURIComponent(ws)}/secrets`)
      ).secrets;
    },
    async ready() {
      if (subscriber && !listening) await subscribe();
    },
    clear,
    async close() {
      clear();
      listening = false;
      if (!subscriber) return;
      subscriber.off('message', onMessage);
      subscriber.off('close', onLost);
      subscriber.off('end', onLost);
      subscriber.off('ready', onReady);
      if (subscriber.status === 'ready') await subscriber.unsubscribe(channel).catch(() => undefined);
    },
  };
}
