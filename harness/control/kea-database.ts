/**
 * Kea's PostgreSQL host database as a client sees it: where it is reached, and Kea's schema in it
 * (from `kea-admin db-init pgsql`, so the tables are exactly the ones Kea reads). The private
 * cluster that may serve it is started in netns/daemons/postgres.ts.
 */
import { pgClient } from './pg-client.ts';
import { run } from '../os/exec.ts';

/** Where a database is reached: `host` is a hostname or, starting with '/', a unix socket directory. */
export interface PgTarget {
  host: string;
  port?: number;
  user: string;
  database: string;
  password?: string;
}

function keaAdminArgs(t: PgTarget): string[] {
  return ['-u', t.user, '-n', t.database, '-h', t.host, ...(t.port ? ['-P', String(t.port)] : []), ...(t.password ? ['-p', t.password] : [])];
}

/** Creates Kea's schema with kea-admin unless the database already has one (checked by `db-version`). */
export async function ensureKeaSchema(target: PgTarget): Promise<string> {
  const version = await run(['kea-admin', 'db-version', 'pgsql', ...keaAdminArgs(target)], { allowFailure: true });
  const existing = version.exitCode === 0 ? version.stdout.trim().split('\n').at(-1)?.trim() : undefined;
  if (existing && /^\d+\.\d+$/.test(existing)) return existing;
  const init = await run(['kea-admin', 'db-init', 'pgsql', ...keaAdminArgs(target)]);
  return /reported after initialization: (\S+)/.exec(init.stdout)?.[1] ?? 'unknown';
}

/** A server the user names: checks that it answers and holds (or now holds) Kea's schema. */
export async function connectPostgres(target: PgTarget): Promise<PgTarget> {
  const client = await pgClient(target);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    const where = `${target.host}${target.port ? `:${target.port}` : ''} (database ${target.database}, user ${target.user})`;
    throw new Error(`PostgreSQL at ${where} does not answer: ${(err as Error).message}`, { cause: err });
  } finally {
    await client.end().catch(() => undefined);
  }
  await ensureKeaSchema(target);
  return target;
}
