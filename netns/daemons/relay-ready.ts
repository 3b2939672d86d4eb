/**
 * Readiness of a relay v6pod did not write (ISC dhcrelay, the user's command): it is ready once a
 * UDP socket on port 547 is bound in its router's namespace, read from the namespace's own table
 * (/proc/PID/net/udp6 of the process, so no spawn per check).
 */
import { readFileSync } from 'node:fs';
import type { DaemonRecord } from '../run-state.ts';
import { assertAlive } from './process.ts';
import { waitUntil } from '../../harness/os/wait.ts';

const DHCPV6_SERVER_PORT_HEX = (547).toString(16).toUpperCase().padStart(4, '0');

/** Whether the namespace of `pid` has a UDP/IPv6 socket bound to port 547. */
export function listensOn547(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/net/udp6`, 'utf8')
      .split('\n')
      .slice(1)
      .some((line) => line.trim().split(/\s+/)[1]?.endsWith(`:${DHCPV6_SERVER_PORT_HEX}`));
  } catch {
    return false;
  }
}

/** Resolves once the daemon listens on UDP 547; fails at once (naming its log) if it exits first. */
export async function waitRelayListening(record: DaemonRecord, what: string, timeoutMs = 15_000): Promise<DaemonRecord> {
  await waitUntil(
    () => {
      assertAlive(record);
      return listensOn547(record.pid);
    },
    { timeoutMs, what: `${what} to listen on UDP 547 (log ${record.log})` },
  );
  return record;
}
