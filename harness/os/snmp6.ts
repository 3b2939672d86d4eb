/**
 * A namespace's IPv6 SNMP counters (/proc/net/snmp6, read inside it): what its kernel dropped
 * where no daemon's own statistics can see it.
 */
import { run } from './exec.ts';

/** UDP/IPv6 datagrams the namespace's kernel dropped for a full socket receive buffer. */
export async function udp6RcvbufErrors(ns: string): Promise<number> {
  const { stdout } = await run(['cat', '/proc/net/snmp6'], { ns });
  return Number(/^Udp6RcvbufErrors\s+(\d+)/m.exec(stdout)?.[1] ?? 0);
}
