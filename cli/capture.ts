/**
 * `v6pod capture [--run NAME] NODE IFACE [-w FILE.pcap] [-c COUNT] [--filter BPF] [--json]`:
 * tcpdump inside the node's namespace (--immediate-mode, packet-buffered). With -w the frames go
 * to the file; without, tcpdump writes pcap to its stdout and each frame is printed as it arrives,
 * decoded as `v6pod decode` prints it. Stops after COUNT frames or on SIGINT/SIGTERM.
 */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { ipJson, nsArgv } from '../harness/os/exec.ts';
import { UsageError } from '../harness/os/usage-error.ts';
import { insideUserns } from '../netns/userns.ts';

interface CaptureOptions {
  run?: string;
  write?: string;
  count?: string;
  filter?: string;
  json?: boolean;
}

export function registerCapture(program: Command): void {
  program
    .command('capture')
    .description("capture frames on a node's interface: decoded on stdout, or to a pcap file")
    .option('--run <name>', 'run name (default: the only run)')
    .argument('<node>', 'node name')
    .argument('<iface>', 'interface in that node (eth0, lan, vnet0, br0 …)')
    .option('-w, --write <file>', 'write a pcap file instead of printing decoded frames')
    .option('-c, --count <n>', 'stop after this many frames')
    .option('--filter <bpf>', "tcpdump filter expression, e.g. 'icmp6 or udp port 547'")
    .option('--json', 'print frames as JSON Lines (as v6pod decode --json)')
    .action(async (nodeName: string, iface: string, opts: CaptureOptions) => {
      if (opts.count !== undefined && !/^[1-9][0-9]*$/.test(opts.count)) throw new UsageError(`-c ${opts.count}: expected a positive count`);
      const [{ planNode, planOfRun }, { recordLine }, { LINKTYPE_ETHERNET, readPcap }, { PcapStream }, { resolveRun }] = await Promise.all([
        import('../netns/inspect.ts'),
        import('../harness/packet/describe.ts'),
        import('../harness/packet/pcap.ts'),
        import('../harness/packet/pcap-stream.ts'),
        import('./run-option.ts'),
      ]);
      const { plan } = planOfRun(resolveRun(opts.run));
      const node = planNode(plan, nodeName);
      const ifaces = (await ipJson<Array<{ ifname: string }>>(node.ns, ['link', 'show'])).map((l) => l.ifname);
      if (!ifaces.includes(iface)) throw new UsageError(`no interface '${iface}' in ${nodeName} (interfaces: ${ifaces.join(', ')})`);

      // In a rootless pod tcpdump cannot drop root to its own user (initgroups: setgroups is denied
      // in the user namespace, docs/rootless.md); dumpcap does not try, and writes pcap (-P) as well.
      const tool = insideUserns()
        ? ['dumpcap', '-q', '-P', '-i', iface, '-w', opts.write ?? '-', ...(opts.filter ? ['-f', opts.filter] : [])]
        : ['tcpdump', ...['-i', iface, '--immediate-mode', '-U', '-w', opts.write ?? '-'], ...(opts.filter ? [opts.filter] : [])];
      const argv = nsArgv(node.ns, [...tool, ...(opts.count ? ['-c', opts.count] : [])]);
      // tcpdump's own lines (listening on …, N packets captured) stay on stderr.
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', opts.write ? 'inherit' : 'pipe', 'inherit'] });
      // SIGINT from the terminal reaches tcpdump too; one sent to v6pod alone is passed on. Either way
      // tcpdump flushes its frames and exits, and so does v6pod.
      const stop = (signal: NodeJS.Signals) => child.kill(signal);
      process.on('SIGINT', stop).on('SIGTERM', stop);
      let frames = 0;
      let failure: Error | undefined;
      if (!opts.write) {
        const stream = new PcapStream();
        child.stdout!.on('data', (chunk: Buffer) => {
          try {
            const records = stream.push(chunk);
            if (stream.linkType !== undefined && stream.linkType !== LINKTYPE_ETHERNET)
              throw new UsageError(`${iface}: link type ${stream.linkType} is not Ethernet (1)`);
            for (const rec of records) process.stdout.write(`${recordLine(rec, ++frames, opts.json === true).line}\n`);
          } catch (err) {
            failure = err as Error;
            child.kill('SIGTERM');
          }
        });
      }
      const code = await new Promise<number | null>((resolve, reject) => {
        child.once('error', reject);
        child.once('close', resolve);
      }).finally(() => process.off('SIGINT', stop).off('SIGTERM', stop));
      if (failure) throw failure;
      // tcpdump exits 0 on SIGINT and after COUNT; anything else it has explained on stderr.
      if (code !== 0) {
        process.exitCode = 1;
        return;
      }
      if (opts.write) frames = readPcap(opts.write).records.length;
      if (opts.write || frames === 0) process.stderr.write(`capture: ${frames} frames${opts.write ? ` written to ${opts.write}` : ''}\n`);
    });
}
