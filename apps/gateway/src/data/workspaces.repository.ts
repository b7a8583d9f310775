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
  /**
   * The user ids of the workspace's owners: the guard of the last-owner rule (see
   * `owners.ts`). Absent on workspaces created before it existed; filled from `members` on
   * first use.
   */
  owners?: string[];
  /** The workspace's latest Embedded Signup, step by step (onboarding/esb.ts). */
  onboarding?: OnboardingRecord;
}

/** The steps of Embedded Signup after Meta's flow returned, in the order they run. */
export const ONBOARDING_STEPS = [
  'tokenExchanged',
  'webhooksSubscribed',
  'phoneRegistered',
  'metadataFetched',
] as const;
export type OnboardingStep = (typeof ONBOARDING_STEPS)[number];

/** One step's last outcome: `pending` until it ran (or while a step it needs has not succeeded). */
export interface StepOutcome {
  status: 'pending' | 'succeeded' | 'failed';
  /** When it last ran. */
  at: Date | null;
  /** Why it failed (Meta's reason, never a token); null otherwise. */
  error: string | null;
  attempts: number;
}

export interface OnboardingRecord {
  wabaId: string;
  phoneNumberId: string;
  /** The business portfolio owning the WABA, when the flow's front end passed it on. */
  businessId?: string;
  /** The user who completed Meta's flow. */
  userId: string;
  startedAt: Date;
  steps: Record<OnboardingStep, StepOutcome>;
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
    serves: 'members.find(ws) listing, and find(ws, { role: owner }) filling a legacy workspace’s owner set',
  },
];
