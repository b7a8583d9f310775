import { createHash } from 'node:crypto';
import type { AccountUpdateV1, AuditV1 } from '@wapi/contracts';
import type { PhoneDirectory } from '../messaging/directory';
import type { NumberRecord, NumberRepositories, QualityEventDoc } from './store';
import { isQualityDrop, messagingLimitOf } from './tiers';

/**
 * What `applyNumberUpdate` and the sync need, and nothing more:
 * - `numbers`, `qualityEvents`: the repositories of `numberRepositories(db)` (numbers/store.ts);
 * - `directory`: the phone-number directory (`phoneDirectory(...)`), so message-sender's
 *   pacing follows a new throughput or messaging limit;
 * - `audit`: queues one `audit.v1` event (gateway's audit producer);
 * - `now`: the clock.
 */
export interface NumberHealthDeps {
  numbers: NumberRepositories['numbers'];
  qualityEvents: NumberRepositories['qualityEvents'];
  directory: Pick<PhoneDirectory, 'publish'>;
  audit(event: AuditV1): Promise<void>;
  now(): Date;
}

type Change = AccountUpdateV1['change'];
type PhoneQuality = Extract<Change, { kind: 'phone_quality' }>;

/**
 * Meta's `phone_number_quality_update` events and what they mean for the rating (§3.7, §5.3).
 * The webhook names no rating: FLAGGED is Meta's signal that quality dropped to low, and
 * UNFLAGGED that it is back above low (recorded as YELLOW, medium, until the next sync reads
 * the exact rating). Other events (ONBOARDING, UPGRADE, DOWNGRADE, THROUGHPUT_UPGRADE) change
 * limits, not the rating.
 */
const RATING_OF_EVENT: Readonly<Record<string, string>> = { FLAGGED: 'RED', UNFLAGGED: 'YELLOW' };

const eventId = (...parts: string[]) =>
  `nq_${createHash('sha256').update(parts.join('\u0000')).digest('base64url').slice(0, 24)}`;

/** Records (once) and audits a quality drop or limit downgrade of `number`. */
export async function recordDrop(
  deps: Pick<NumberHealthDeps, 'qualityEvents' | 'audit'>,
  number: Pick<NumberRecord, '_id' | 'workspaceId'>,
  drop: Pick<QualityEventDoc, 'kind' | 'from' | 'to' | 'source' | 'at'>,
): Promise<void> {
  const doc: QualityEventDoc = {
    _id: eventId(number._id, drop.kind, drop.from ?? '', drop.to ?? '', drop.at.toISOString()),
    workspaceId: number.workspaceId,
    phoneNumberId: number._id,
    ...drop,
  };
  // A redelivered webhook (same number, change and time) is stored and audited once.
  if (!(await deps.qualityEvents.insertOnce(doc))) return;
  await deps.audit({
    workspaceId: number.workspaceId,
    actor: { type: 'system', id: drop.source === 'webhook' ? 'meta-webhook' : 'number-sync' },
    action: drop.kind === 'quality_drop' ? 'phone_number.quality_dropped' : 'phone_number.limit_downgraded',
    target: { type: 'phone_number', id: number._id },
    at: drop.at.toISOString(),
    outcome: 'success',
    before: { value: drop.from },
    after: { value: drop.to },
  });
}

/** The numbers an update is about: the named one, else by display number, else the WABA's. */
async function numbersOf(deps: NumberHealthDeps, update: AccountUpdateV1): Promise<NumberRecord[]> {
  const { workspaceId, wabaId, change } = update;
  if (change.kind === 'phone_quality') {
    if (change.phoneNumberId) {
      const one = await deps.numbers.findOne({ _id: change.phoneNumberId, workspaceId });
      return one ? [one] : [];
    }
    // Meta sometimes names only the display number: compare digits, within the WABA.
    const digits = change.displayPhoneNumber.replace(/\D/g, '');
    const all = await deps.numbers.find({ workspaceId, wabaId }, { limit: 1_000 });
    return all.filter((n) => n.displayPhoneNumber.replace(/\D/g, '') === digits);
  }
  return deps.numbers.find({ workspaceId, wabaId }, { limit: 1_000 });
}

type Patch = Partial<
  Pick<
    NumberRecord,
    | 'qualityRating'
    | 'messagingLimitTier'
    | 'messagingLimit'
    | 'throughputMps'
    | 'accountStatus'
    | 'businessId'
  >
>;

function phoneQualityPatch(change: PhoneQuality): Patch {
  const patch: Patch = {};
  const rating = RATING_OF_EVENT[change.event];
  if (rating) patch.qualityRating = rating;
  if (change.currentLimit) {
    const limit = messagingLimitOf(change.currentLimit);
    patch.messagingLimitTier = change.currentLimit;
    if (limit !== undefined) patch.messagingLimit = limit;
  }
  // §5.1: the automatic upgrade to 1,000 messages per second.
  if (change.event === 'THROUGHPUT_UPGRADE') patch.throughputMps = 1_000;
  return patch;
}

/**
 * Applies one `account.update.v1` change of kind `phone_quality`, `account` or `capability`
 * to the numbers it concerns: their record, their directory entry (throughput and messaging
 * limit, so message-sender's pacing follows), and for a quality drop or a limit downgrade a
 * recorded, audited event. Template kinds are not this function's (they are ignored).
 * Idempotent: applying the same update twice changes nothing the second time.
 */
export async function applyNumberUpdate(deps: NumberHealthDeps, update: AccountUpdateV1): Promise<void> {
  const { change } = update;
  if (change.kind !== 'phone_quality' && change.kind !== 'account' && change.kind !== 'capability') return;
  const at = new Date(update.occurredAt);
  for (const number of await numbersOf(deps, update)) {
    let patch: Patch;
    if (change.kind === 'phone_quality') patch = phoneQualityPatch(change);
    else if (change.kind === 'capability') {
      // business_capability_update: the portfolio's limit, shared by every number of the WABA (§5.3).
      const limit = messagingLimitOf(change.maxDailyConversationsPerBusiness);
      patch = limit === undefined ? {} : { messagingLimit: limit };
    } else {
      patch = {
        accountStatus: {
          event: change.event,
          banState: change.banState ?? null,
          violationType: change.violationType ?? null,
          at,
        },
        // PARTNER_* events name the owning portfolio: message-sender then counts the
        // messaging limit per portfolio instead of per WABA (§5.3).
        ...(change.businessId ? { businessId: change.businessId } : {}),
      };
    }
    if (Object.keys(patch).length === 0) continue;
    await deps.numbers.updateOne({ _id: number._id, workspaceId: number.workspaceId }, { $set: patch });
    const after: NumberRecord = { ...number, ...patch };
    await deps.directory.publish(after);
    // FLAGGED is Meta saying the rating dropped, even when ours was unknown; not again once RED.
    const dropped =
      change.kind === 'phone_quality' && change.event === 'FLAGGED'
        ? number.qualityRating !== 'RED'
        : patch.qualityRating !== undefined && isQualityDrop(number.qualityRating, patch.qualityRating);
    if (dropped)
      await recordDrop(deps, number, {
        kind: 'quality_drop',
        from: number.qualityRating,
        to: patch.qualityRating ?? null,
        source: 'webhook',
        at,
      });
    if (change.kind === 'phone_quality' && change.event === 'DOWNGRADE')
      await recordDrop(deps, number, {
        kind: 'limit_downgrade',
        from: change.previousLimit ?? number.messagingLimitTier,
        to: change.currentLimit ?? null,
        source: 'webhook',
        at,
      });
  }
}
