import type { IndexSpec } from '@wapi/store';
import { kekUsageIndexes } from './kek-usage.repository';
import { secretIndexes } from './secrets.repository';

/** Every index vault's collections need, applied by `migrate` before the server listens. */
export const vaultIndexes: IndexSpec[] = [...secretIndexes, ...kekUsageIndexes];
