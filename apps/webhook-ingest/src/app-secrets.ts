import { AppError, appSecretRecordIds, PLATFORM_WORKSPACE_ID } from '@wapi/contracts';
import type { VaultClient } from '@wapi/vault-client';
import type { Logger } from 'pino';

/** The Meta app secrets that may sign a webhook right now. */
export interface AppSecrets {
  /** The active secrets (read on every POST: no I/O, no copy). */
  current(): readonly string[];
}

/** App secrets read from vault and refreshed. */
export interface VaultAppSecrets extends AppSecrets {
  /**
   * Reads every record again. True when the set was replaced; false when a read failed
   * (vault unreachable, refused, ...), in which case the last good set stays active.
   */
  refresh(): Promise<boolean>;
  /** The record ids found at the last good read (ids, never values: safe to log and show). */
  records(): readonly string[];
}

/** Fixed secrets from the environment (`DEV_META_APP_SECRETS`, development only). */
export function fixedAppSecrets(secrets: readonly string[]): AppSecrets {
  const frozen = Object.freeze([...secrets]);
  return { current: () => frozen };
}

/**
 * Reads the app secrets of `appIds` from vault: workspace `platform`, purpose
 * `meta.app_secret`, records `<appId>` and `<appId>.next` (the incoming secret during a
 * rotation; vault keeps no earlier revision to read, so the overlap is two records). An
 * absent record (404) is simply not active; any other failure keeps the previous set,
 * so a short vault outage never locks Meta out. Throws at start-up, saying what to do,
 * when vault cannot be read or holds none of the records. Values are never logged: log
 * lines name record ids only.
 */
export async function loadVaultAppSecrets(options: {
  vault: Pick<VaultClient, 'read'>;
  appIds: readonly string[];
  vaultUrl: string;
  log: Logger;
}): Promise<VaultAppSecrets> {
  const { vault, log } = options;
  const recordIds = options.appIds.flatMap(appSecretRecordIds);
  let secrets: readonly string[] = [];
  let found: readonly string[] = [];

  /** Every record's value, null when vault has none; throws on any other failure. */
  const readAll = () =>
    Promise.all(
      recordIds.map(async (recordId) => {
        try {
          return (await vault.read(PLATFORM_WORKSPACE_ID, 'meta.app_secret', recordId)).value;
        } catch (error) {
          if (error instanceof AppError && error.code === 'VAULT_SECRET_NOT_FOUND') return null;
          throw error;
        }
      }),
    );
  const apply = (values: (string | null)[]) => {
    const ids = recordIds.filter((_, i) => values[i] !== null);
    if (ids.length === 0)
      log.warn(
        { records: recordIds },
        'vault holds none of the Meta app secrets any more: every webhook POST answers 503 until one is stored',
      );
    else if (ids.join(',') !== found.join(',') || values.some((v) => v !== null && !secrets.includes(v)))
      log.info({ records: ids }, 'Meta app secrets loaded from vault');
    secrets = Object.freeze(values.filter((v): v is string => v !== null));
    found = Object.freeze(ids);
  };

  let first: (string | null)[];
  try {
    first = await readAll();
  } catch (error) {
    const code = error instanceof AppError ? error.code : (error as Error).name;
    throw new Error(
      `webhook-ingest: cannot read the Meta app secrets from vault at ${options.vaultUrl} (${code}); check VAULT_URL, that vault runs and that it lets webhook-ingest read meta.app_secret, then restart`,
    );
  }
  if (first.every((v) => v === null)) {
    throw new Error(
      `webhook-ingest: vault holds no Meta app secret for META_APP_IDS=${options.appIds.join(',')} (workspace ${PLATFORM_WORKSPACE_ID}, purpose meta.app_secret, records ${recordIds.join(', ')}); store the app secret there (gateway writes it) or correct META_APP_IDS, then restart`,
    );
  }
  apply(first);

  return {
    current: () => secrets,
    records: () => found,
    async refresh() {
      try {
        apply(await readAll());
        return true;
      } catch (error) {
        log.warn(
          { code: error instanceof AppError ? error.code : (error as Error).name, records: found },
          'Meta app secrets not refreshed from vault; the last good set stays active',
        );
        return false;
      }
    },
  };
}
