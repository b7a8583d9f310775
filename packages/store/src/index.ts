export * from './duplicate-key';
export * from './expiry-sweeper';
export * from './global';
export { FORBIDDEN_STAGES } from './guards';
export * from './indexes';
export type { StoreLog } from './log';
export * from './mongo';
export type {
  BulkWriteOptions,
  BulkWriteSummary,
  FindOneAndUpdateOptions,
  InsertManyOptions,
  InsertManySummary,
  UpdateSummary,
} from './operations';
export * from './tenant';
export * from './types';
