/**
 * A real pod for the reservation stores' integration tests: the default pod brought up by up()
 * under a run name of this process's own (owner = this PID, so `down --all` sweeps it if the test
 * dies), Kea's control socket, and the routers' side of DHCPv6 played by relay-client.ts from
 * inside r1's namespace.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { up } from '../../netns/realize.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { loadPodFile, DEFAULT_POD_FILE } from '../../harness/pod/pod-file.ts';
import { keaCommand } from '../../harness/os/control-socket.ts';
import { keaConfig, keaPaths } from '../../harness/control/kea-config.ts';
import type { Plan } from '../../harness/pod/plan.ts';
import { run } from '../../harness/os/exec.ts';
import type { ClientResult, RelayClient } from './relay-client.ts';

const RELAY_CLIENT = fileURLToPath(new URL('./relay-client.ts', import.meta.url));

export interface TestPod {
  run: string;
  plan: Plan;
  socket: string;
  /** The pod subnet's id in Kea's config. */
  subnetId: number;
  relay(clients: RelayClient[]): Promise<ClientResult[]>;
  kea(command: string, args?: object): Promise<{ result: number; text?: string; arguments?: Record<string, unknown> }>;
  /** Deletes Kea's leases of these prefixes (what destroy must do: an old lease blocks the reservation for a new DUID). */
  deleteLeases(prefixes: string[]): Promise<void>;
  /** Restarts Kea's config with `extra` merged into Dhcp6 (e.g. hosts-database), through config-reload. */
  reloadWith(extra: Record<string, unknown>): Promise<void>;
  down(): Promise<void>;
}

export async function upTestPod(tag: string): Promise<TestPod> {
  const runName = `${tag}-${process.pid}`;
  const pod = loadPodFile(DEFAULT_POD_FILE);
  // The test plays the relay itself (relay-client.ts in r1), so the pod's own relays stay off.
  const { plan } = await up(pod, runName, { podFile: DEFAULT_POD_FILE, owner: process.pid, relays: false });
  const socket = keaPaths(runName).socket;
  const base = keaConfig(plan) as { Dhcp6: { subnet6: { id: number }[] } };
  const router = plan.routers[0]!;
  const kea: TestPod['kea'] = async (command, args) => keaCommand(socket, command, args, 10_000);
  return {
    run: runName,
    plan,
    socket,
    subnetId: base.Dhcp6.subnet6[0]!.id,
    async relay(clients) {
      const script = { server: plan.kea.address, linkAddress: router.lanAddress, clients };
      const { stdout } = await run(['ip', 'netns', 'exec', router.ns, process.execPath, '--import', 'tsx', RELAY_CLIENT], {
        input: JSON.stringify(script),
        timeoutMs: 30_000,
      });
      return JSON.parse(stdout) as ClientResult[];
    },
    kea,
    async deleteLeases(prefixes) {
      for (const p of prefixes) {
        const answer = await kea('lease6-del', { 'ip-address': p.split('/')[0], type: 'IA_PD' });
        // 3 = empty: there was no lease, which is fine.
        if (answer.result !== 0 && answer.result !== 3) throw new Error(`lease6-del ${p}: ${answer.text}`);
      }
    },
    async reloadWith(extra) {
      const config = keaConfig(plan) as { Dhcp6: Record<string, unknown> };
      Object.assign(config.Dhcp6, extra);
      writeFileSync(keaPaths(runName).config, `${JSON.stringify(config, null, 2)}\n`);
      const answer = await kea('config-reload');
      if (answer.result !== 0) throw new Error(`config-reload: ${answer.text}`);
    },
    down: async () => void (await teardownRun(runName)),
  };
}
