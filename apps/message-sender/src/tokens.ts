import { readFileSync } from 'node:fs';
import { type DirectoryEntry, directoryKey } from '@wapi/contracts';
import type { VaultClient } from '@wapi/vault-client';
import type { Redis } from 'ioredis';

/** Where the sender gets a phone number's Graph access token. */
export interface TokenSource {
  /** The token, from a short cache when `fresh` is false. */
  get(workspaceId: string, phoneNumberId: string, fresh: boolean): Promise<string>;
}

/**
 * Tokens from vault (purpose `meta.access_token`, record = the number's WABA id, read from
 * gateway's phone-number directory in Redis). `fresh` bypasses the client's cache (after a
 * 190, the cached copy is the one Meta refused).
 */
export function vaultTokenSource(vault: VaultClient, redis: Redis, prefix: string): TokenSource {
  return {
    async get(workspaceId, phoneNumberId, fresh) {
      const raw = await redis.get(directoryKey(prefix, phoneNumberId));
      if (!raw)
        throw new Error(
          `phone number ${phoneNumberId} is not in the directory (Redis ${directoryKey(prefix, phoneNumberId)}); gateway rebuilds it at start-up — the job is retried`,
        );
      const entry = JSON.parse(raw) as DirectoryEntry;
      if (entry.workspaceId !== workspaceId)
        throw new Error(
          `phone number ${phoneNumberId} belongs to another workspace than the message's; fix the message or the directory`,
        );
      if (fresh) return (await vault.read(workspaceId, 'meta.access_token', entry.wabaId)).value;
      return vault.get(workspaceId, 'meta.access_token', entry.wabaId);
    },
  };
}

/**
 * One token for every number, read from a file (development against meta-sandbox, where
 * vault holds nothing yet). `fresh` re-reads the file.
 */
export function fileTokenSource(path: string): TokenSource {
  let cached = readFileSync(path, 'utf8').trim();
  return {
    async get(_ws, _pnid, fresh) {
      if (fresh) cached = readFileSync(path, 'utf8').trim();
      return cached;
    },
  };
}
