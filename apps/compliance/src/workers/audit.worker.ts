import type { AuditV1 } from '@wapi/contracts';
import { asWorkspaceId } from '@wapi/store';
import { type Job, UnrecoverableError } from 'bullmq';
import type { AuditLog } from '../data/audit-log';

/**
 * `audit.v1`: appends each event to its workspace's chain. The job id is the event's
 * identity: a job that failed or stalled after its entry landed is checked against the
 * chain before appending again (first attempts skip that scan).
 */
export function auditProcessor(audit: AuditLog) {
  return async (event: AuditV1, job: Job<AuditV1>): Promise<void> => {
    try {
      asWorkspaceId(event.workspaceId);
    } catch (error) {
      throw new UnrecoverableError((error as Error).message);
    }
    const maybeDuplicate = job.attemptsMade > 0 || (job.stalledCounter ?? 0) > 0;
    await audit.append({ ...event, eventId: String(job.id) }, { maybeDuplicate });
  };
}
