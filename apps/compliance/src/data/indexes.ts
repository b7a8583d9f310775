import type { IndexSpec } from '@wapi/store';
import { AUDIT_INDEXES } from './audit-log';
import { CONSENT_INDEXES } from './consent-ledger';

/** Every index compliance's collections need; `migrate` applies them at start-up. */
export const INDEXES: IndexSpec[] = [...CONSENT_INDEXES, ...AUDIT_INDEXES];
