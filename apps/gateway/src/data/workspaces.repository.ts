import type { Plan, Role } from '@wapi/contracts';
import { globalRepository, type IndexSpec, tenantRepository } from '@wapi/store';
import type { Db } from 'mongodb';

/** A workspace; `_id` is its id (it is the tenant itself, so it lives in a global collection). */
export interface WorkspaceDoc {
  _id: string;
  name: string;
  plan: Plan;
  /** Per-workspace override of the plan's send limit (null: the plan's). */
  sendsPerMinute: number | null;
  createdAt: Date;
}

/** A member of a workspace; `_id` is `<workspaceId>:<userId>` so the role check is a lookup by `_id`. */
export interface MemberDoc {
  _id: string;
  workspaceId: string;
  userId: string;
  email: string;
  name: string;
  role: Role;
  addedAt: Date;
}

export const memberKey = (workspaceId: string, userId: string) => `${workspaceId}:${userId}`;

export function workspaceRepositories(db: Db) {
  return {
    workspaces: globalRepository<WorkspaceDoc>(db, 'workspaces'),
    members: tenantRepository<MemberDoc>(db, 'members'),
  };
}
export type WorkspaceRepositories = ReturnType<typeof workspaceRepositories>;

export const workspaceIndexes: IndexSpec[] = [
  {
    collection: 'members',
    name: 'workspace_role',
    key: { workspaceId: 1, role: 1 },
    serves: 'members.find(ws) listing and countDocuments(ws, { role: owner }) for the last-owner rule',
  },
];
