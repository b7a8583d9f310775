import { asWorkspaceId } from '@wapi/store';
import type { Logger } from 'pino';
import type { AuditLog } from '../data/audit-log';

/**
 * The retention sweeper: purges each workspace's audit entries older than its retention
 * (the anchor keeps the rest verifiable) and records the purge itself in the chain.
 * Consent history is never purged: it is the evidence, kept as long as the workspace.
 */
export function startRetentionSweeper(options: { audit: AuditLog; intervalMs: number; log: Logger }) {
  const { audit, log } = options;
  let running: Promise<number> | undefined;
  let stopped = false;

  async function sweep(): Promise<number> {
    let deleted = 0;
    for (const id of await audit.workspaces()) {
      const ws = asWorkspaceId(id);
      const purged = await audit.purge(ws);
      if (!purged.anchor) continue;
      deleted += purged.deleted;
      await audit.append({
        workspaceId: ws,
        eventId: `retention:${purged.anchor.firstSeq}`,
        actor: { type: 'service', id: 'compliance' },
        action: 'audit.purged',
        target: { type: 'audit_log', id: ws },
        at: new Date().toISOString(),
        outcome: 'success',
        data: { firstSeq: purged.anchor.firstSeq, prevHash: purged.anchor.prevHash, deleted: purged.deleted },
      });
      log.info(
        { workspaceId: ws, deleted: purged.deleted, firstSeq: purged.anchor.firstSeq },
        'audit entries purged',
      );
    }
    return deleted;
  }

  function sweepOnce(): Promise<number> {
    running ??= sweep().finally(() => {
      running = undefined;
    });
    return running;
  }

  const timer = setInterval(() => {
    if (running || stopped) return;
    sweepOnce().catch((error: unknown) =>
      log.error({ err: error }, 'audit retention sweep failed; retried next interval'),
    );
  }, options.intervalMs);
  timer.unref();

  return {
    sweepOnce,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
