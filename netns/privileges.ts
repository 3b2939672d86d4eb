/**
 * v6pod creates namespaces and links: it needs CAP_NET_ADMIN and CAP_SYS_ADMIN (mounting /run/netns),
 * as root or as root of a rootless pod's user namespace (netns/userns.ts), where it has both.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../harness/os/usage-error.ts';

const CAP_NET_ADMIN = 12n;
const CAP_SYS_ADMIN = 21n;

export function assertNetAdmin(verb: string): void {
  const status = readFileSync('/proc/self/status', 'utf8');
  const eff = BigInt(`0x${/^CapEff:\s*([0-9a-f]+)/m.exec(status)?.[1] ?? '0'}`);
  const has = (cap: bigint) => (eff >> cap) & 1n;
  if (!has(CAP_NET_ADMIN) || !has(CAP_SYS_ADMIN)) {
    throw new UsageError(
      `${verb} needs CAP_NET_ADMIN and CAP_SYS_ADMIN to create network namespaces: run it as root with its capabilities, or as an ordinary user for a rootless pod (docs/rootless.md)`,
    );
  }
}
