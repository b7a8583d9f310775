/** The server's code for a unique-index violation (MongoDB and FerretDB alike). */
export const DUPLICATE_KEY = 11000;

const codeOf = (value: unknown): unknown =>
  typeof value === 'object' && value !== null ? (value as { code?: unknown }).code : undefined;

/** The write errors of a bulk error (`MongoBulkWriteError.writeErrors` is one error or an array). */
function writeErrorsOf(error: object): unknown[] | undefined {
  const writeErrors = (error as { writeErrors?: unknown }).writeErrors;
  if (writeErrors === undefined || writeErrors === null) return undefined;
  return Array.isArray(writeErrors) ? writeErrors : [writeErrors];
}

/**
 * True when `error` is a unique-index violation and nothing else: a server error with code
 * 11000, or a bulk write error (`MongoBulkWriteError`, `insertMany`, `bulkWrite`) whose write
 * errors are all 11000. A bulk error that also holds another kind of failure is not a
 * duplicate: retrying or ignoring it would hide that failure.
 *
 * Checked by shape rather than by class, so errors from another copy of the driver count too.
 */
export function isDuplicateKeyError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const writeErrors = writeErrorsOf(error);
  if (writeErrors && writeErrors.length > 0) {
    // A write-concern error beside the duplicates is a different problem.
    const { err, writeConcernError } = error as { err?: unknown; writeConcernError?: unknown };
    if (err || writeConcernError) return false;
    return writeErrors.every((writeError) => codeOf(writeError) === DUPLICATE_KEY);
  }
  return codeOf(error) === DUPLICATE_KEY;
}

/** How many write errors of a bulk error were duplicates (0 for anything else). */
export function duplicateCount(error: unknown): number {
  if (typeof error !== 'object' || error === null) return 0;
  const writeErrors = writeErrorsOf(error);
  if (writeErrors) return writeErrors.filter((writeError) => codeOf(writeError) === DUPLICATE_KEY).length;
  return codeOf(error) === DUPLICATE_KEY ? 1 : 0;
}
