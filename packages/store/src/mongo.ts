import { type Db, MongoClient, type MongoClientOptions } from 'mongodb';

/**
 * A client that connects on first use. Services start with this, so that a service whose
 * database is briefly down still starts and reports it on `/health/ready` instead of
 * crash-looping.
 */
export function createMongoClient(
  url: string,
  appName: string,
  options: MongoClientOptions = {},
): MongoClient {
  return new MongoClient(url, {
    appName,
    serverSelectionTimeoutMS: 5_000,
    connectTimeoutMS: 5_000,
    maxPoolSize: 20,
    ...options,
  });
}

/**
 * Connects to MongoDB (or any server speaking its wire protocol, e.g. FerretDB).
 * Fails within `serverSelectionTimeoutMS` with a message that says what to check.
 */
export async function connectMongo(
  url: string,
  appName: string,
  options: MongoClientOptions = {},
): Promise<MongoClient> {
  const client = createMongoClient(url, appName, options);
  try {
    await client.connect();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `cannot reach MongoDB (${redactMongoUrl(url)}): ${reason}; is it running? (infra/infra.sh status)`,
    );
  }
  return client;
}

/** The URL with any password replaced, for messages. */
export function redactMongoUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):([^@/]+)@/, '//$1:***@');
}

/** Readiness probe: a `ping` round trip. */
export function mongoCheck(db: Db, name = 'mongodb') {
  return { name, probe: () => db.command({ ping: 1 }) };
}
