/**
 * Readiness of a relay v6pod did not write (ISC dhcrelay, the user's command): it is ready once a
 * UDP socket on port 547 is bound in its router's namespace, read from the namespace's own table
 * (/proc/PID/net/udp6 of the process, so no spawn per check). `up` asks the same of Kea, on its
 * service address.
 */
import { readFileSync } from 'node:fs';
import { ipv6ToBytes } from '../../harness/addr/bytes.ts';
import type { DaemonRecord } from '../run-state.ts';
import { assertAlive } from './process.ts';
import { waitUntil } from '../../harness/os/wait.ts';

const DHCPV6_SERVER_PORT_HEX = (547).toString(16).toUpperCase().padStart(4, '0');

/** An IPv6 address as /proc/net/udp6 writes it: four 32-bit words, each in host (little-endian) order. */
function procAddress(address: string): string {
  const bytes = ipv6ToBytes(address);
  return [0, 4, 8, 12].map((o) => bytes.readUInt32LE(o).toString(16).toUpperCase().padStart(8, '0')).join('');
}

/** Whether the namespace of `pid` has a UDP/IPv6 socket bound to port 547 (to `address`, when given). */
export function listensOn547(pid: number, address?: string): boolean {
  const local = address === undefined ? undefined : `${procAddress(address)}:${DHCPV6_SERVER_PORT_HEX}`;
  try {
    return readFileSync(`/proc/${pid}/net/udp6`, 'utf8')
      .split('\n')
      .slice(1)
      .some((line) => {
        const bound = line.trim().split(/\s+/)[1];
        return local ? bound === local : bound?.endsWith(`:${DHCPV6_SERVER_PORT_HEX}`);
      });
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
