/**
 * A node-postgres client, the package loaded on first use: commands that never talk to PostgreSQL
 * (`status`, `down`, `validate`) do not pay for loading it (docs/facts.md, starting the command line).
 */
import type pg from 'pg';

export async function pgClient(config: pg.ClientConfig): Promise<pg.Client> {
  const { default: driver } = await import('pg');
  return new driver.Client(config);
}
