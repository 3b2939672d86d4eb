/**
 * Puts freshly opened TAPs into service on the hypervisor bridge, as libvirt does for a VM's vnetN:
 * no IPv6 on the port itself (a hypervisor port holds no address, and must not send its own DAD,
 * RS or MLD), in the bridge, up. Sysctls go straight to /proc/sys (the daemon already runs in the
 * hypervisor's namespace); the links change through one `ip -batch` write for the whole batch
 * (docs/facts.md: one `ip` spawn per port costs ~2 ms, too slow at 250).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { IpBatch } from '../os/ip-batch.ts';
import { waitUntil } from '../os/wait.ts';

/** br_private.h BR_STATE_FORWARDING. */
const FORWARDING = '3';
const FORWARDING_TIMEOUT_MS = 5000;

export function portLines(bridge: string, ports: readonly string[]): string[] {
  return ports.flatMap((p) => [`link set dev ${p} master ${bridge}`, `link set dev ${p} up`]);
}

export async function attachPorts(batch: IpBatch, bridge: string, ports: readonly string[]): Promise<void> {
  for (const p of ports) writeFileSync(`/proc/sys/net/ipv6/conf/${p}/disable_ipv6`, '1');
  const failures = await batch.submit(portLines(bridge, ports));
  if (failures.length) throw new Error(`attaching ports to ${bridge} failed: ${failures.map((f) => `'${f.line}': ${f.error}`).join('; ')}`);
  // The bridge forwards on a new port only once the kernel's link watcher saw it come up (up to
  // ~1 s later): a first RS or DAD probe sent before that is lost, as a kernel guest would not send it.
  const waiting = new Set(ports);
  await waitUntil(
    () => {
      for (const p of waiting) if (portState(p) === FORWARDING) waiting.delete(p);
      return waiting.size === 0;
    },
    { timeoutMs: FORWARDING_TIMEOUT_MS, what: () => `${[...waiting].join(', ')} to forward in ${bridge}` },
  );
}

function portState(port: string): string | undefined {
  try {
    return readFileSync(`/sys/class/net/${port}/brport/state`, 'utf8').trim();
  } catch {
    return undefined;
  }
}
