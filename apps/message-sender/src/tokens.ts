import { readFileSync } from 'node:fs';
import { directoryKey } from '@wapi/contracts';
import type { VaultClient } from '@wapi/vault-client';
import type { DirectoryCache } from './directory';

/** Where the sender gets a phone number's Graph access token. */
export interface TokenSource {
  /** The token, from a short cache when `fresh` is false. */
  get(workspaceId: string, phoneNumberId: string, fresh: boolean): Promise<string>;
}

/**
 * Tokens from vault (purpose `meta.access_token`, record = the phone number id: where gateway
 * stores the token of each connected number, manual or Embedded Signup). The directory is read
 * first so that a message can only use a number of its own workspace. `fresh` bypasses the
 * client's cache (after a 190, the cached copy is the one Meta refused).
 */
export function vaultTokenSource(vault: VaultClient, directory: DirectoryCache, prefix: string): TokenSource {
  return {
    async get(workspaceId, phoneNumberId, fresh) {
      const entry = await directory.get(phoneNumberId);
      if (!entry)
        throw new Error(
          `phone number ${phoneNumberId} is not in the directory (Redis ${directoryKey(prefix, phoneNumberId)}); gateway rebuilds it at start-up — the job is retried`,
        );
      if (entry.workspaceId !== workspaceId)
        throw new Error(
          `phone number ${phoneNumberId} belongs to another workspace than the message's; fix the message or the directory`,
        );
      if (fresh) return (await vault.read(workspaceId, 'meta.access_token', phoneNumberId)).value;
      return vault.get(workspaceId, 'meta.access_token', phoneNumberId);
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
