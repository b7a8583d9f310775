import { readFileSync } from 'node:fs';
import type { Static, TObject, TProperties } from '@sinclair/typebox';
import type { ServiceName } from '@wapi/contracts';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { DestinationStream, Logger } from 'pino';
import { ConfigError, loadConfig } from './config';
import { closeRedis, createRedis, type RedisExtraOptions, type RedisRole } from './redis';
import { createLogger } from './service';

/**
 * `NAME_FILE=/path` sets `NAME` to that file's content (trailing newline trimmed): the
 * Docker/Kubernetes secrets convention, so keys and passwords need not sit in the
 * environment. Setting both `NAME` and `NAME_FILE` is a problem, as is an unreadable file.
 * Pure apart from `read`; returns the resolved environment and every problem found.
 */
export function resolveFileVariables(
  env: Readonly<Record<string, string | undefined>>,
  /** The service's variables: only `NAME_FILE` for a known `NAME` (itself not a variable) is read. */
  known: ReadonlySet<string>,
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): { env: Record<string, string | undefined>; problems: string[] } {
  const out: Record<string, string | undefined> = { ...env };
  const problems: string[] = [];
  for (const [key, path] of Object.entries(env)) {
    const name = /^([A-Z][A-Z0-9_]*)_FILE$/.exec(key)?.[1];
    // SANDBOX_SEED_FILE is a variable of its own, not the file form of SANDBOX_SEED.
    if (!name || !path || !known.has(name) || known.has(key)) continue;
    if (env[name] !== undefined && env[name] !== '') {
      problems.push(`${name} and ${key} are both set; set only one of them`);
      continue;
    }
    try {
      out[name] = read(path).replace(/\r?\n$/, '');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      problems.push(
        `${key} names ${path}, which cannot be read (${reason}); check the path and its permissions`,
      );
    }
    delete out[key];
  }
  return { env: out, problems };
}

/** What every service's config has, as runService needs it. */
export interface RunnableConfig {
  readonly HOST: string;
  readonly PORT: number;
  readonly LOG_LEVEL: string;
  readonly SHUTDOWN_TIMEOUT_MS: number;
  readonly REDIS_URL: string;
}

export interface StartContext<C extends RunnableConfig> {
  readonly config: C;
  /** The service's one logger; pass it to `buildApp` so requests and workers log alike. */
  readonly log: Logger;
  /**
   * Registers `resource` to be closed on shutdown, or at once if start-up fails later on.
   * Resources close in reverse order of registration, after the HTTP server has drained.
   */
  own<T>(name: string, resource: T, close: (resource: T) => unknown): T;
  /** A Redis connection of the given role (see createRedis), owned; `extra` tunes it. */
  redis(role: RedisRole, extra?: RedisExtraOptions): Redis;
}

export interface RunServiceOptions<P extends TProperties> {
  service: ServiceName;
  /** The app's config schema (its `configSchema`); runService loads it with `loadConfig`. */
  configSchema: P;
  /** Opens what the app needs (through `own`) and builds it. No listening. */
  start(context: StartContext<Readonly<Static<TObject<P>>> & RunnableConfig>): Promise<FastifyInstance>;
  /** Default: `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Where logs go (default stdout); tests pass a stream. */
  logStream?: DestinationStream;
  /** Ends the process (default `process.exit`); tests pass a recorder. */
  exit?: (code: number) => void;
}

/**
 * The one way a wapi service process runs: resolve `*_FILE` variables, load config (or
 * exit 78 listing every problem), create the one logger, open connections and build the
 * app (closing whatever was opened, logging the error and exiting 1 if that fails), listen,
 * and on SIGTERM/SIGINT shut down gracefully: stop accepting, finish in-flight requests
 * and jobs (app.close runs the app's onClose hooks), close what was owned, exit 0 — or
 * exit 1 once `SHUTDOWN_TIMEOUT_MS` has passed.
 */
export async function runService<P extends TProperties>(options: RunServiceOptions<P>): Promise<void> {
  type C = Readonly<Static<TObject<P>>> & RunnableConfig;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  /** A ConfigError ends the process with 78 (EX_CONFIG) after listing every problem. */
  const exitOnConfigError = (error: unknown): boolean => {
    if (!(error instanceof ConfigError)) return false;
    process.stderr.write(`${error.message}\n`);
    exit(78);
    return true;
  };
  const resolved = resolveFileVariables(
    options.env ?? process.env,
    new Set(Object.keys(options.configSchema)),
  );
  let config: C;
  try {
    if (resolved.problems.length > 0) throw new ConfigError(options.service, resolved.problems);
    config = loadConfig(options.service, options.configSchema, resolved.env) as C;
  } catch (error) {
    if (exitOnConfigError(error)) return;
    throw error;
  }
  const log = createLogger(options.service, config.LOG_LEVEL, options.logStream);
  const owned: Array<{ name: string; close: () => unknown }> = [];
  const closeOwned = async () => {
    for (const { name, close } of owned.splice(0).reverse()) {
      try {
        await close();
      } catch (error) {
        log.warn({ resource: name, err: error }, 'error while closing');
      }
    }
  };
  const own = <T>(name: string, resource: T, close: (resource: T) => unknown): T => {
    owned.push({ name, close: () => close(resource) });
    return resource;
  };

  process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled rejection'));

  // Request-role connections fail fast (no offline queue), so a command issued before one is
  // connected fails with "Stream isn't writeable" even though Redis is up: the start-up work
  // of onReady hooks (rebuilding a cache, say) would be lost to a race. Listening waits for
  // them, for a bounded time: a service still starts while Redis is down, and says so.
  const requestConnections: Redis[] = [];
  let app: FastifyInstance;
  try {
    app = await options.start({
      config,
      log,
      own,
      redis: (role, extra) => {
        const client = own(
          `redis (${role})`,
          createRedis(config.REDIS_URL, role, log, options.service, extra),
          closeRedis,
        );
        if (role === 'request') requestConnections.push(client);
        return client;
      },
    });
  } catch (error) {
    await closeOwned();
    if (exitOnConfigError(error)) return;
    log.fatal({ err: error }, 'start-up failed; fix the cause above and start again');
    exit(1);
    return;
  }

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      log.error({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out; exiting');
      exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    try {
      await app.close();
      await closeOwned();
      clearTimeout(timer);
      log.info('stopped');
      exit(0);
    } catch (error) {
      log.error({ err: error }, 'shutdown failed');
      exit(1);
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  if (!(await connected(requestConnections, STARTUP_REDIS_WAIT_MS)))
    log.warn(
      { waitedMs: STARTUP_REDIS_WAIT_MS },
      'Redis is not reachable at start-up; serving anyway (readiness reports it) — check REDIS_URL and that Redis runs',
    );
  try {
    const address = await app.listen({ host: config.HOST, port: config.PORT });
    log.info({ address }, 'listening');
  } catch (error) {
    log.fatal({ err: error }, `cannot listen on ${config.HOST}:${config.PORT}; is the port free?`);
    // The app's onClose hooks stop its workers before their connections go.
    await app.close().catch((closeError: unknown) => log.warn({ err: closeError }, 'error while closing'));
    await closeOwned();
    exit(1);
  }
}

/** How long start-up waits for its request-role Redis connections before listening anyway. */
const STARTUP_REDIS_WAIT_MS = 5_000;

/** Whether every client is ready within `timeoutMs`. */
async function connected(clients: Redis[], timeoutMs: number): Promise<boolean> {
  const pending = clients.filter((client) => client.status !== 'ready');
  if (pending.length === 0) return true;
  let timer: NodeJS.Timeout | undefined;
  const ready = Promise.all(
    pending.map((client) => new Promise<void>((resolve) => client.once('ready', () => resolve()))),
  ).then(() => true);
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([ready, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
