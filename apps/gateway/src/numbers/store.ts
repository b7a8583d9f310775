import { type GlobalRepository, globalRepository } from '@wapi/store';
import type { Db } from 'mongodb';
import type { PhoneNumberDoc } from '../messaging/repositories';

/**
 * A phone number as number health and onboarding see it: the messaging record plus the
 * facts synced from Graph. The same `phone_numbers` documents (by `_id` = Meta's phone number
 * id); the extra fields are optional because numbers connected by hand have none yet.
 */
export interface NumberRecord extends PhoneNumberDoc {
  /** Unique business-initiated recipients per rolling 24 h (tiers.ts); `null`: unlimited. */
  messagingLimit?: number | null;
  /** The last account-level event (`account_update`): a ban or violation is visible here. */
  accountStatus?: { event: string; banState: string | null; violationType: string | null; at: Date };
  /** When Graph was last read for this number (sync or onboarding). */
  syncedAt?: Date;
}

/**
 * A quality drop or limit downgrade, kept as history (insert-only: cheap on FerretDB). `_id`
 * is derived from the number, the time and the change, so a redelivered webhook adds nothing.
 */
export interface QualityEventDoc {
  _id: string;
  workspaceId: string;
  phoneNumberId: string;
  kind: 'quality_drop' | 'limit_downgrade';
  from: string | null;
  to: string | null;
  source: 'webhook' | 'sync';
  at: Date;
}

export function numberRepositories(db: Db) {
  return {
    numbers: globalRepository<NumberRecord>(db, 'phone_numbers') as GlobalRepository<NumberRecord>,
    qualityEvents: globalRepository<QualityEventDoc>(db, 'number_quality_events'),
  };
}
export type NumberRepositories = ReturnType<typeof numberRepositories>;
