import type { AccountUpdateV1 } from '@wapi/contracts';
import { createWorker, drainOnClose, type ServiceApp } from '@wapi/service-kit';
import { asWorkspaceId } from '@wapi/store';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { TemplateStore } from './store';

/** The kinds of `account.update.v1` that are about numbers and the account, not templates. */
export type NumberUpdate = AccountUpdateV1 & {
  change: Exclude<AccountUpdateV1['change'], { kind: 'template_status' | 'template_quality' }>;
};

/** Meta's template `event` as the status a send is checked against (§7.4). */
const statusOf = (event: string) => (event === 'REINSTATED' ? 'APPROVED' : event);

/**
 * Applies one `account.update.v1`: template status and quality here (an older change never
 * overwrites a newer one: `statusAt`), every other kind through `onNumberUpdate` (number
 * health owns those). A change for a template the store does not know is dropped: the
 * periodic sync brings templates made in Meta's own tools.
 */
export async function applyAccountUpdate(
  store: TemplateStore,
  update: AccountUpdateV1,
  onNumberUpdate: ((update: NumberUpdate) => Promise<void>) | undefined,
  log: Pick<Logger, 'debug' | 'warn'>,
): Promise<void> {
  const ws = asWorkspaceId(update.workspaceId);
  const { change } = update;
  // Meta stamps these webhooks in whole seconds (entry.time, docs/meta-platform.md §3.3) and
  // truncates: the change happened within the second after. Read as the end of that second,
  // a change reported in the same second as a sync or a creation here (stamped by our clock
  // in milliseconds) counts as the newer one, as it is; webhooks keep their order among
  // themselves.
  const at = new Date(Date.parse(update.occurredAt) + 999);
  if (change.kind === 'template_status') {
    const known = await store.applyChange(
      ws,
      change,
      {
        status: statusOf(change.status),
        reason: change.reason && change.reason !== 'NONE' ? change.reason : null,
        ...(change.category ? { category: change.category } : {}),
      },
      at,
    );
    if (!known)
      log.debug(
        { template: change.name, workspaceId: ws },
        'status of an unknown template; the sync brings it',
      );
    return;
  }
  if (change.kind === 'template_quality') {
    await store.applyChange(ws, change, { quality: change.quality }, at);
    return;
  }
  if (onNumberUpdate) await onNumberUpdate(update as NumberUpdate);
  else log.warn({ kind: change.kind, workspaceId: ws }, 'account update of a kind nothing applies here yet');
}

/** The `account.update.v1` consumer (webhook-ingest produces it from the management webhooks). */
export function registerAccountUpdateWorker(
  app: ServiceApp,
  deps: {
    store: TemplateStore;
    connection: Redis;
    prefix: string;
    log: Logger;
    onNumberUpdate?: (update: NumberUpdate) => Promise<void>;
  },
): void {
  drainOnClose(
    app,
    createWorker(
      'account.update.v1',
      (payload) => applyAccountUpdate(deps.store, payload, deps.onNumberUpdate, deps.log),
      { connection: deps.connection, prefix: deps.prefix, log: deps.log },
      { concurrency: 20 },
    ),
  );
}
