/**
 * Plays the pod routers' relay agent towards Kea, for tests: run inside a router namespace
 * (`ip netns exec <ns> node --import tsx relay-client.ts`), reads a JSON RelayScript on stdin,
 * and for each client sends a Relay-Forward (hop 0, link-address in the pod /64, peer-address the
 * client's link-local, Remote-Id = enterprise 4491 + the 6 MAC bytes) around a Solicit with its
 * DUID and IA_PDs; optionally completes the exchange with a Request (so Kea records a lease).
 * Prints one JSON array of ClientResult on stdout.
 */
import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { decodeDhcpv6, encodeDhcpv6, findOption, innermostMessage, type ClientServerMessage, type Dhcpv6Option } from '../../harness/packet/dhcpv6.ts';
import { linkLocalAddress } from '../../harness/addr/slaac.ts';

export interface RelayClient {
  mac: string;
  /** The client's DUID-LL link-layer address: client-chosen, unrelated to the MAC Kea keys on. */
  duid: string;
  iaids: number[];
  /** Follow the Advertise with a Request, so the prefixes are leased. */
  request?: boolean;
}

export interface RelayScript {
  server: string;
  linkAddress: string;
  clients: RelayClient[];
}

export interface IaPdResult {
  iaid: number;
  prefixes: string[];
  /** The IA_PD's status code, when Kea put one in (6 = NoPrefixAvail). */
  status?: number;
}

export interface ClientResult {
  mac: string;
  advertise: IaPdResult[];
  reply?: IaPdResult[];
}

const REMOTE_ID_ENTERPRISE = 4491;
const TIMEOUT_MS = 3000;

function iaPds(msg: ClientServerMessage): IaPdResult[] {
  return msg.options.flatMap((o) => {
    if (o.type !== 'ia-pd') return [];
    const status = findOption(o.options, 'status-code')?.code;
    const prefixes = o.options.flatMap((p) => (p.type === 'iaprefix' ? [`${p.prefix}/${p.prefixLength}`] : []));
    return [{ iaid: o.iaid, prefixes, ...(status !== undefined ? { status } : {}) }];
  });
}

const sock = createSocket({ type: 'udp6', reuseAddr: true });
const waiting = new Map<number, (m: ClientServerMessage) => void>();
sock.on('message', (buf) => {
  const inner = innermostMessage(decodeDhcpv6(buf));
  if (inner && inner.type !== 'unknown') waiting.get(inner.transactionId)?.(inner);
});

function exchange(script: RelayScript, client: RelayClient, type: 'solicit' | 'request', options: Dhcpv6Option[]): Promise<ClientServerMessage> {
  const transactionId = randomInt(1 << 24);
  const message = encodeDhcpv6({
    type: 'relay-forward',
    hopCount: 0,
    linkAddress: script.linkAddress,
    peerAddress: linkLocalAddress(client.mac),
    options: [
      { type: 'remote-id', enterpriseNumber: REMOTE_ID_ENTERPRISE, remoteId: client.mac },
      { type: 'relay-message', message: { type, transactionId, options } },
    ],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no answer from [${script.server}]:547 to the ${type} of ${client.mac} within ${TIMEOUT_MS} ms`)),
      TIMEOUT_MS,
    );
    waiting.set(transactionId, (m) => {
      clearTimeout(timer);
      waiting.delete(transactionId);
      resolve(m);
    });
    sock.send(message, 547, script.server);
  });
}

async function runClient(script: RelayScript, client: RelayClient): Promise<ClientResult> {
  const clientId: Dhcpv6Option = { type: 'client-id', duid: { type: 'll', hardwareType: 1, linkLayerAddress: client.duid } };
  const elapsed: Dhcpv6Option = { type: 'elapsed-time', centiseconds: 0 };
  const solicitIas: Dhcpv6Option[] = client.iaids.map((iaid) => ({ type: 'ia-pd', iaid, t1: 0, t2: 0, options: [] }));
  const advertise = await exchange(script, client, 'solicit', [clientId, elapsed, ...solicitIas]);
  const result: ClientResult = { mac: client.mac, advertise: iaPds(advertise) };
  if (client.request) {
    const serverId = findOption(advertise.options, 'server-id');
    if (!serverId) throw new Error(`the Advertise for ${client.mac} carries no Server Identifier`);
    const requestIas = advertise.options.filter((o) => o.type === 'ia-pd');
    const reply = await exchange(script, client, 'request', [clientId, serverId, elapsed, ...requestIas]);
    result.reply = iaPds(reply);
  }
  return result;
}

let input = '';
process.stdin.setEncoding('utf8').on('data', (d: string) => (input += d));
process.stdin.on('end', () => {
  const script = JSON.parse(input) as RelayScript;
  // Kea answers a relay at port 547 of the address the Relay-Forward came from.
  sock.bind(547, async () => {
    try {
      const results: ClientResult[] = [];
      for (const client of script.clients) results.push(await runClient(script, client));
      process.stdout.write(`${JSON.stringify(results)}\n`);
      sock.close();
    } catch (err) {
      process.stderr.write(`relay-client: ${(err as Error).message}\n`);
      process.exit(1);
    }
  });
});
