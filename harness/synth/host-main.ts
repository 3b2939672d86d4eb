/**
 * The synthetic-instance host daemon: `node --import tsx harness/synth/host-main.ts --config FILE`,
 * run inside a hypervisor's namespace by netns/daemons/synth.ts. Opens one TAP per instance
 * (vnetN, as KVM would), attaches them all to the bridge, starts an emulated host on each, then
 * serves its control socket — so an answer to list-commands means every TAP is attached.
 * SIGTERM closes the TAPs and sends nothing: a VM that disappears sends no Release.
 */
import { handleSynthCommand } from './control.ts';
import { Fleet } from './fleet.ts';
import { loadSynthHostConfig } from './host-config.ts';
import { attachPorts } from './ports.ts';
import { openTapLink } from './tap-link.ts';
import { closeTaps } from '../io/tap-bulk-close.ts';
import type { TapDevice } from '../io/tap.ts';
import { PdClient } from './pd-client.ts';
import { IpBatch } from '../os/ip-batch.ts';
import { serveControl } from '../os/control-socket.ts';

const log = (msg: string) => process.stdout.write(`${new Date().toISOString()} ${msg}\n`);
/** One line in the daemon's log, which v6pod quotes when the host does not come up. */
const die = (msg: string, code = 1): never => {
  process.stderr.write(`synth-host: ${msg}\n`);
  process.exit(code);
};

const i = process.argv.indexOf('--config');
const file = i > 0 ? process.argv[i + 1] : undefined;
if (!file) die('usage: host-main.ts --config FILE', 2);
let cfg;
try {
  cfg = loadSynthHostConfig(file!);
} catch (err) {
  die((err as Error).message, 2);
}
const config = cfg!;

const batch = new IpBatch();
/** Every TAP opened (closed ones included: closeTaps skips them). */
const taps: TapDevice[] = [];
const fleet = new Fleet({
  dad: config.dad,
  firstSolicitDelayMs: config.firstSolicitDelayMs ?? 0,
  ...(config.mldVersion ? { mldVersion: config.mldVersion } : {}),
  dhcpFactory: (o) => new PdClient(o),
  ports: {
    open: (port) => {
      const link = openTapLink(port, log);
      taps.push(link.tap);
      return link;
    },
    attach: (ports) => attachPorts(batch, config.bridge, ports),
  },
});

const started = Date.now();
await fleet.add(config.instances).catch((err: Error) => die(`cannot start the instances on ${config.hypervisor}: ${err.message}`));
log(`${config.instances.length} instance(s) attached to ${config.bridge} on ${config.hypervisor} in ${Date.now() - started} ms (dad ${config.dad})`);

const LOGGED = new Set(['add', 'remove', 'release', 'renew', 'start-dhcp']);
const control = await serveControl(config.controlSocket, async (request) => {
  const answer = await handleSynthCommand(request, fleet);
  if (LOGGED.has(String(request.command)))
    log(`${String(request.command)} ${JSON.stringify(request.arguments ?? {})}: ${answer.result === 0 ? 'ok' : `result ${answer.result}: ${answer.text}`}`);
  return answer;
}).catch((err: Error) => die(`cannot serve its control socket ${config.controlSocket}: ${err.message}`));
log(`serving ${config.controlSocket}`);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  // One by one, closing 250 TAPs blocks for ~4.5 s in the kernel; as one group it takes ~0.1 s.
  await closeTaps(taps);
  fleet.close();
  control.close();
  await batch.close();
  log(`stopped (${signal})`);
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
