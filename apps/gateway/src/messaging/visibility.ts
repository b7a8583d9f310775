import { keyOf, roleHas } from '@wapi/contracts';
import { asWorkspaceId } from '@wapi/store';
import type { Redis } from 'ioredis';
import type { Principal } from '../plugins/auth';
import type { MessagingRepositories } from './repositories';

/**
 * Who sees which conversations: a role holding `conversations:read_all` sees every
 * conversation (contact) of the workspace; one holding only `conversations:read_assigned`
 * (agents) sees the contacts assigned to them, their messages and their live events. An API
 * key of such a role is nobody's assignee, so it sees none.
 */
export const seesAllConversations = (principal: Pick<Principal, 'role'>): boolean =>
  roleHas(principal.role, 'conversations:read_all');

/** Of `contactIds`, those assigned to `principal` (read by `_id`). */
export async function visibleContactIds(
  repos: MessagingRepositories,
  principal: Pick<Principal, 'workspaceId' | 'id'>,
  contactIds: string[],
): Promise<Set<string>> {
  const unique = [...new Set(contactIds)];
  if (unique.length === 0) return new Set();
  const docs = await repos.contacts.find(asWorkspaceId(principal.workspaceId), { _id: { $in: unique } });
  return new Set(docs.filter((c) => c.assigneeId === principal.id).map((c) => c._id));
}

/**
 * The Redis set of the contacts assigned to a member, read by the live-events stream for
 * each batch it forwards (the database stays the truth: the stream refills the set from it
 * when it opens).
 */
export const assignedKey = (prefix: string, workspaceId: string, userId: string) =>
  keyOf(prefix, 'gw-assigned', workspaceId, userId);

/** Refills a member's assigned set from the database (on opening a stream). */
export async function refillAssigned(
  redis: Redis,
  prefix: string,
  repos: MessagingRepositories,
  principal: Pick<Principal, 'workspaceId' | 'id'>,
): Promise<void> {
  const docs = await repos.contacts.find(
    asWorkspaceId(principal.workspaceId),
    { assigneeId: principal.id },
    { projection: { _id: 1 }, limit: 100_000 },
  );
  if (docs.length > 0)
    await redis.sadd(assignedKey(prefix, principal.workspaceId, principal.id), ...docs.map((d) => d._id));
}
