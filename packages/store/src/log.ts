/** The logging a store helper needs; a pino logger fits. */
export interface StoreLog {
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}
