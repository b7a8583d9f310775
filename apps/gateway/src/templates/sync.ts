import { AppError, keyOf } from '@wapi/contracts';
import type { createMetaClient } from '@wapi/meta-client';
import { MetaApiError } from '@wapi/meta-client';
import { asWorkspaceId, type WorkspaceId } from '@wapi/store';
import type { VaultClient } from '@wapi/vault-client';
import type { Redis } from 'ioredis';
import type { MessagingRepositories, PhoneNumberDoc } from '../messaging/repositories';
import type { StoredComponent } from './definition';
import { type TemplateDoc, type TemplateStore, templateDoc } from './store';

export type MetaClient = ReturnType<typeof createMetaClient>;

export interface TemplateSyncDeps {
  store: TemplateStore;
  repos: MessagingRepositories;
  meta: MetaClient;
  vault: Pick<VaultClient, 'get'>;
  now(): Date;
}

/** A WABA of a workspace and the token to call Graph for it (a connected number's). */
export interface WabaAccess {
  wabaId: string;
  token: string;
}

/**
 * Turns a Graph failure into a catalogue error: Meta's refusal (4xx) carries Meta's own
 * reason to the caller; an outage or timeout is a 503 to retry.
 */
export function metaFailure(error: unknown, what: string): AppError {
  if (
    error instanceof MetaApiError &&
    error.httpStatus >= 400 &&
    error.httpStatus < 500 &&
    error.code !== 4
  ) {
    return new AppError(
      'TEMPLATE_REFUSED_BY_META',
      `Meta refused to ${what}: ${error.message} (code ${error.code}${error.subcode ? `/${error.subcode}` : ''}); correct it and retry.`,
    );
  }
  if (error instanceof AppError) return error;
  return new AppError(
    'DEPENDENCY_UNAVAILABLE',
    `Meta's Graph API could not ${what} now (${error instanceof Error ? error.message : 'unknown failure'}); retry later.`,
  );
}

/** The WABAs of a workspace's connected numbers, each with one number (whose token is used). */
export function wabasOf(numbers: PhoneNumberDoc[]): Map<string, PhoneNumberDoc> {
  const wabas = new Map<string, PhoneNumberDoc>();
  for (const n of numbers) if (n.status === 'connected' && !wabas.has(n.wabaId)) wabas.set(n.wabaId, n);
  return wabas;
}

export function templateSync(deps: TemplateSyncDeps) {
  /** The WABA to act on (the one named, or the workspace's only one) and its token from vault. */
  async function access(ws: WorkspaceId, wabaId?: string): Promise<WabaAccess> {
    const numbers = await deps.repos.phoneNumbers.find(
      { workspaceId: ws, status: 'connected' },
      { limit: 100 },
    );
    const wabas = wabasOf(numbers);
    const number = wabaId ? wabas.get(wabaId) : wabas.size === 1 ? [...wabas.values()][0] : undefined;
    if (!number) {
      throw new AppError(
        'PHONE_NUMBER_NOT_CONNECTED',
        wabas.size === 0
          ? 'This workspace has no connected WhatsApp number, so no WhatsApp Business Account to hold templates; connect one first.'
          : wabaId
            ? `No connected number of this workspace belongs to the WABA ${wabaId}.`
            : `This workspace has numbers in several WABAs (${[...wabas.keys()].join(', ')}); name one in wabaId.`,
      );
    }
    return { wabaId: number.wabaId, token: await deps.vault.get(ws, 'meta.access_token', number._id) };
  }

  /**
   * Makes the store equal Meta's list for one WABA: every listed template is upserted, a
   * stored one Meta no longer lists is removed. Answers the counts.
   */
  async function syncWaba(ws: WorkspaceId, waba: WabaAccess): Promise<{ synced: number; removed: number }> {
    const listed: TemplateDoc[] = [];
    let after: string | undefined;
    for (let page = 0; page < 100; page++) {
      const answer = await deps.meta
        .listTemplates(waba.token, waba.wabaId, { limit: 200, ...(after ? { after } : {}) })
        .catch((error: unknown) => {
          throw metaFailure(error, 'list the templates');
        });
      const now = deps.now();
      for (const t of answer.data) {
        listed.push(
          templateDoc(ws, waba.wabaId, { ...t, components: t.components as StoredComponent[] }, now),
        );
      }
      after = answer.paging?.cursors.after;
      if (!after || answer.data.length === 0) break;
    }
    await deps.store.upsert(ws, listed);
    const keep = new Set(listed.map((t) => t._id));
    const stored = await deps.store.repo.find(ws, { wabaId: waba.wabaId }, { limit: 5_000 });
    const gone = stored.filter((t) => !keep.has(t._id));
    await deps.store.remove(ws, gone);
    return { synced: listed.length, removed: gone.length };
  }

  return {
    access,
    syncWaba,

    /** Syncs every WABA of one workspace. */
    async syncWorkspace(ws: WorkspaceId): Promise<{ synced: number; removed: number }> {
      const numbers = await deps.repos.phoneNumbers.find(
        { workspaceId: ws, status: 'connected' },
        { limit: 100 },
      );
      const total = { synced: 0, removed: 0 };
      for (const wabaId of wabasOf(numbers).keys()) {
        const one = await syncWaba(ws, await access(ws, wabaId));
        total.synced += one.synced;
        total.removed += one.removed;
      }
      if (numbers.length === 0) await access(ws);
      return total;
    },

    /**
     * One periodic pass over every workspace with a connected number, run by one instance at
     * a time: a Redis lock (`SET NX PX`) held for the interval decides which. A failing
     * workspace is logged and skipped; the next pass retries it.
     */
    async syncAll(
      redis: Redis,
      prefix: string,
      holdMs: number,
      log: { warn(o: object, m: string): void },
    ): Promise<{ ran: boolean; workspaces: number }> {
      const lock = keyOf(prefix, 'gw-templates-sync', 'lock');
      if ((await redis.set(lock, String(process.pid), 'PX', holdMs, 'NX')) !== 'OK') {
        return { ran: false, workspaces: 0 };
      }
      const numbers = await deps.repos.phoneNumbers.find({ status: 'connected' }, { limit: 10_000 });
      const workspaces = [...new Set(numbers.map((n) => n.workspaceId))];
      for (const ws of workspaces) {
        try {
          for (const [wabaId, number] of wabasOf(numbers.filter((n) => n.workspaceId === ws))) {
            const wsId = asWorkspaceId(ws);
            await syncWaba(wsId, {
              wabaId,
              token: await deps.vault.get(wsId, 'meta.access_token', number._id),
            });
          }
        } catch (error) {
          log.warn(
            { err: error, workspaceId: ws },
            'template sync of a workspace failed; the next pass retries it',
          );
        }
      }
      return { ran: true, workspaces: workspaces.length };
    },
  };
}
export type TemplateSync = ReturnType<typeof templateSync>;
