/** `v6pod up [FILE] [--run NAME] [--dry-run]`: build the pod, or reconcile a run that is up. */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import type { Pod } from '../harness/pod/pod-file.ts';
import { checkRunName } from '../harness/pod/names.ts';
import { UsageError } from '../harness/os/usage-error.ts';
import { DEFAULT_POD_FILE } from '../harness/pod/pod-choices.ts';
import { storeAdvice } from '../harness/control/store-advice.ts';
import { progressPrinter } from './progress.ts';

/** The pod file, or a UsageError with every problem (its parser and schema load on first use). */
export async function loadPod(file: string): Promise<Pod> {
  const { loadPodFile, PodFileError } = await import('../harness/pod/pod-file.ts');
  try {
    return loadPodFile(file);
  } catch (err) {
    if (err instanceof PodFileError) throw new UsageError(err.errors.join('\nv6pod: '));
    throw err;
  }
}

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('build the pod in network namespaces with radvd and Kea; re-running reconciles')
    .argument('[file]', 'pod file', DEFAULT_POD_FILE)
    .option('--run <name>', 'run name (default: the pod name)')
    .option('--dry-run', 'print the commands it would run, change nothing')
    .action(async (file: string, opts: { run?: string; dryRun?: boolean }) => {
      const pod = await loadPod(file);
      const runName = opts.run ?? pod.name;
      const bad = checkRunName(runName);
      if (bad) throw new UsageError(bad);
      // A pod past the size where the config store's cost per deploy outgrows PostgreSQL's: one line saying so.
      const advice = storeAdvice(pod);
      if (advice) process.stderr.write(`v6pod: ${advice}\n`);
      if (opts.dryRun) {
        const { buildPlan, nsShellScript } = await import('../harness/pod/plan.ts');
        const plan = buildPlan(pod, runName);
        // In up's order (netns/realize.ts); what runs meanwhile and the daemons are named in comments.
        const script = (phase: Record<string, Parameters<typeof nsShellScript>[0] | string[]>) =>
          Object.entries(phase).flatMap(([ns, s]) => {
            const text = nsShellScript(Array.isArray(s) ? { sysctls: [], ip: s } : s);
            return text ? [`ip netns exec ${ns} sh -es <<'SCRIPT'`, text, 'SCRIPT'] : [];
          });
        const routers = plan.routers.map((r) => r.ns).join(', ');
        const db =
          pod.kea.backend === 'postgresql'
            ? pod.kea.database
              ? ' (hosts in the named PostgreSQL server)'
              : ' (hosts in a private PostgreSQL cluster, pgbouncer in front)'
            : '';
        const relay = pod.relay === 'v6pod' ? "v6pod's relay" : pod.relay === 'isc-dhcrelay' ? 'ISC dhcrelay -6' : `the external relay (${pod.relayCommand})`;
        const lines = [
          '# 1. namespaces and links',
          `ip -batch - <<'EOF'`,
          ...plan.root,
          'EOF',
          "# 2. every link up, the instances' eth0 with IPv6 off; sysctls",
          ...script(plan.setup),
          `# 3. meanwhile: the routes below; kea-dhcp6 in ${plan.kea.ns}${db}; ${relay} in ${routers}; the reservations; the security groups; the links settle`,
          ...script(plan.routes),
          "# 4. once the links have settled and the groups are in force: the instances' IPv6 on",
          ...script(plan.attach),
          `# 5. radvd in ${routers}; the guests' DHCPv6 clients; wait for every instance's SLAAC address and a default route via each router`,
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
        return;
      }
      const [{ up }, { assertNetAdmin }] = await Promise.all([import('../netns/realize.ts'), import('../netns/privileges.ts')]);
      assertNetAdmin('v6pod up');
      const started = Date.now();
      const { plan, reused } = await up(pod, runName, { podFile: resolve(file), owner: null, progress: progressPrinter() });
      const secs = ((Date.now() - started) / 1000).toFixed(2);
      process.stdout.write(
        `${reused ? 'already up' : 'up'}: run ${runName}, ${plan.nodes.length} nodes, ${plan.instances.length} instances ready in ${secs} s\n`,
      );
    });
}
