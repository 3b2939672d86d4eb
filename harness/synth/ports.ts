/**
 * Puts freshly opened TAPs into service on the hypervisor bridge, as libvirt does for a VM's vnetN:
 * no IPv6 on the port itself (a hypervisor port holds no address, and must not send its own DAD,
 * RS or MLD), in the bridge, up. Sysctls go straight to /proc/sys (the daemon already runs in the
 * hypervisor's namespace); the links change through one `ip -batch` write for the whole batch
 * (DESIGN.md: one `ip` spawn per port costs ~2 ms, too slow at 250).
 */
import { writeFileSync } from 'node:fs';
import type { IpBatch } from '../relay/ip-batch.ts';

export function portLines(bridge: string, ports: readonly string[]): string[] {
  return ports.flatMap((p) => [`link set dev ${p} master ${bridge}`, `link set dev ${p} up`]);
}

export async function attachPorts(batch: IpBatch, bridge: string, ports: readonly string[]): Promise<void> {
  for (const p of ports) writeFileSync(`/proc/sys/net/ipv6/conf/${p}/disable_ipv6`, '1');
  const failures = await batch.submit(portLines(bridge, ports));
  if (failures.length) throw new Error(`attaching ports to ${bridge} failed: ${failures.map((f) => `'${f.line}': ${f.error}`).join('; ')}`);
}
