import type { FastifyInstance } from 'fastify';
import { ConfigError } from './config';

/**
 * Loads config or ends the process with every problem listed (exit code 78, EX_CONFIG).
 * Only `server.ts` files call this: it is the one place a config error becomes an exit.
 */
export function configOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
}

export interface ServeOptions {
  host: string;
  port: number;
  shutdownTimeoutMs: number;
  /** Closed in order after the HTTP server has drained: workers first, then connections. */
  closers: ReadonlyArray<{ name: string; close: () => Promise<unknown> }>;
}

/**
 * Listens, then shuts down gracefully on SIGTERM or SIGINT: stop accepting, finish
 * in-flight requests (app.close runs the app's onClose hooks, which drain its workers),
 * close connections, exit 0. If that takes longer than `shutdownTimeoutMs`, exit 1.
 */
export async function serve(app: FastifyInstance, options: ServeOptions): Promise<void> {
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      app.log.error({ timeoutMs: options.shutdownTimeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, options.shutdownTimeoutMs);
    try {
      await app.close();
      for (const closer of options.closers) {
        try {
          await closer.close();
        } catch (error) {
          app.log.warn({ closer: closer.name, err: error }, 'error while closing');
        }
      }
      clearTimeout(timer);
      app.log.info('stopped');
      process.exit(0);
    } catch (error) {
      app.log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.on('unhandledRejection', (reason) => {
    app.log.error({ err: reason }, 'unhandled rejection');
  });
  try {
    const address = await app.listen({ host: options.host, port: options.port });
    app.log.info({ address }, 'listening');
  } catch (error) {
    app.log.fatal({ err: error }, `cannot listen on ${options.host}:${options.port}; is the port free?`);
    process.exit(1);
  }
}
