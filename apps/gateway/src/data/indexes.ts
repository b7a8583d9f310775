import type { IndexSpec } from '@wapi/store';
import { messagingIndexes } from '../messaging/repositories';
import { apiKeyIndexes } from './api-keys.repository';
import { identityIndexes } from './identity.repository';
import { workspaceIndexes } from './workspaces.repository';

/** Every index gateway's collections need, applied by `migrate` before the server listens. */
export const gatewayIndexes: IndexSpec[] = [
  ...identityIndexes,
  ...workspaceIndexes,
  ...apiKeyIndexes,
  ...messagingIndexes,
];
