/**
 * The pod's L2 switches (the ToR, the hypervisors' cloudbr0, Kea's service bridge) forward on a
 * port only once the kernel's link watcher has seen its carrier come up, which it batches up to a
 * second later. A Router Solicitation sent before then is lost, and the instance waits 4 s for its
 * next one (or a router's next unsolicited RA): instances come up only once every port with a
 * carrier forwards. One spawn reads every switch's ports (`bridge -j link show`).
 */
import { run } from '../harness/os/exec.ts';
import { waitUntil } from '../harness/os/wait.ts';
import type { Plan } from '../harness/pod/plan.ts';

interface BridgePort {
  ifname: string;
  flags?: string[];
  state?: string;
}

const MARK = '@@v6pod-bridge@@';

/** Ports that have a carrier and do not forward yet, as "node:port". */
export async function portsNotForwarding(plan: Plan): Promise<string[]> {
  const switches = plan.nodes.filter((n) => n.role === 'tor' || n.role === 'hypervisor' || n.role === 'kea');
  const script = switches.map((n) => `echo '${MARK}'; bridge -n '${n.ns}' -j link show; echo`).join('\n');
  const { stdout } = await run(['sh', '-c', script], { allowFailure: true });
  const parts = stdout.split(`${MARK}\n`).slice(1);
  return switches.flatMap((n, i) => {
    let ports: BridgePort[];
    try {
      ports = JSON.parse(parts[i]?.trim() || '[]') as BridgePort[];
    } catch {
      return [`${n.name}: unreadable bridge state`];
    }
    return ports.filter((p) => p.flags?.includes('LOWER_UP') && p.state !== 'forwarding').map((p) => `${n.name}:${p.ifname} (${p.state ?? 'no state'})`);
  });
}

export async function waitSwitchesForwarding(plan: Plan, timeoutMs = 5000): Promise<void> {
  let waiting: string[] = [];
  await waitUntil(
    async () => {
      waiting = await portsNotForwarding(plan);
      return waiting.length === 0;
    },
    { timeoutMs, intervalMs: 50, what: () => `the pod's switch ports to forward: ${waiting.join(', ')}` },
  );
}
