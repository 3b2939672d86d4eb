/**
 * The probe agent: one process per network namespace (`ip netns exec NS node --import tsx
 * harness/probe/agent.ts`) that injects raw frames and captures with BPF filters through libpcap
 * (`cap`). It speaks JSON lines on stdio: one request per line on stdin, `{id, cmd, ...}`; one
 * answer per request on stdout, `{id, ok: true, ...}` or `{id, error}`; captured frames as events
 * `{event: 'frame', capture, ts, hex}`. The first line it writes is `{event: 'ready', pid}`.
 * Bad input is answered with an error line, never a crash. It exits on `exit` or when stdin closes,
 * so an agent never outlives the process that drives it.
 *
 * Commands: `open {iface}`, `inject {iface, frame: hex}`, `capture-start {iface, filter, pcap}` →
 * `{capture}` (an empty filter captures everything), `capture-stop {capture}` → `{frames}`,
 * `dhcp {script}` → `{result}` (the codec DHCPv6 client of dhcp-client.ts, answered when its steps
 * are done; other requests are served meanwhile), `ping`, `exit`.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, createWriteStream, openSync, readFileSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import cap, { type Cap } from 'cap';
import { serializePcap } from '../packet/pcap.ts';
import { runDhcpClient, type DhcpClientScript } from './dhcp-client.ts';

const SNAPLEN = 65535;
/** Sessions that only inject keep a small kernel ring: their filter admits nothing. */
const INJECT_RING_BYTES = 64 * 1024;
/**
 * The kernel ring a capture drains. libpcap gives each frame a slot sized for the MTU, or for 64 KiB
 * when the interface has segmentation offloads (veths do by default): 16 MiB holds ~8,000 frames
 * then, but only ~128 with offloads, too few for a burst the agent is not scheduled to drain.
 */
const CAPTURE_RING_BYTES = 16 * 1024 * 1024;
/** A BPF program that matches no frame (no frame is shorter than 1 byte). */
const MATCH_NOTHING = 'less 0';
/** IFF_UP in /sys/class/net/<iface>/flags. */
const IFF_UP = 0x1;

type Request = { id?: unknown; cmd?: unknown } & Record<string, unknown>;
type Answer = Record<string, unknown>;

class RequestError extends Error {}

interface Capture {
  session: PcapSession;
  /** The pcap file, written as frames come. */
  fd: number;
  frames: number;
  /** pcap records not yet written. */
  records: Buffer[];
}

const injectors = new Map<string, PcapSession>();
const captures = new Map<string, Capture>();
let nextCapture = 1;

/**
 * Output never blocks the drain of the capture rings: lines are written once per turn of the event
 * loop, through a stream whose writes run off the main thread, so a slow reader makes lines queue
 * here rather than frames drop in the kernel. (process.stdout on a pipe writes synchronously.)
 */
const out = createWriteStream('', { fd: 1 });
// Nobody reads any more (the driver died): the pcaps are closed complete and the agent leaves.
out.on('error', () => {
  if (!shuttingDown) closeAll();
  process.exit(0);
});
const lines: string[] = [];
let flushQueued = false;

function emit(line: Answer): void {
  lines.push(JSON.stringify(line));
  if (!flushQueued) {
    flushQueued = true;
    setImmediate(flush);
  }
}

function flush(): void {
  flushQueued = false;
  for (const capture of captures.values()) writeRecords(capture);
  if (lines.length) out.write(`${lines.join('\n')}\n`);
  lines.length = 0;
}

function writeRecords(capture: Capture): void {
  if (capture.records.length) writeSync(capture.fd, Buffer.concat(capture.records));
  capture.records.length = 0;
}

function stringArg(req: Request, name: string, allowEmpty = false): string {
  const v = req[name];
  if (typeof v !== 'string' || (v === '' && !allowEmpty)) throw new RequestError(`'${name}' must be a non-empty string`);
  return v;
}

/** Refuses what would make `Cap.open` throw after creating its pcap handle (see PcapSession). */
function checkOpenable(iface: string, filter: string): void {
  if (!/^[^/\s]{1,15}$/.test(iface) || iface === '.' || iface === '..') throw new RequestError(`'${iface}' is not an interface name`);
  let flags: number;
  try {
    flags = parseInt(readFileSync(`/sys/class/net/${iface}/flags`, 'utf8'), 16);
  } catch {
    throw new RequestError(`no interface ${iface} in this namespace`);
  }
  if (!(flags & IFF_UP)) throw new RequestError(`interface ${iface} is down`);
  // Every capture of a drop proof takes all frames: nothing to compile, and no tcpdump to fork.
  if (filter === '' || filter === MATCH_NOTHING) return;
  // tcpdump compiles the filter against an empty Ethernet pcap on stdin, as libpcap would for the interface.
  const compiled = spawnSync('tcpdump', ['-r', '-', '-d', '--', filter], { input: serializePcap([]), encoding: 'utf8', timeout: 5000 });
  if (compiled.error) throw new RequestError(`cannot check filter '${filter}' with tcpdump: ${compiled.error.message}`);
  if (compiled.status !== 0) {
    const why = compiled.stderr
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('reading from'))
      .join(' ');
    throw new RequestError(`bad filter '${filter}': ${why.replace(/^tcpdump: /, '')}`);
  }
}

/**
 * One libpcap handle on an interface (promiscuous, immediate mode: the binding sets both), kept
 * clear of the `cap` binding's memory hazards, each of which has ended the agent in SIGSEGV:
 * - a Cap object must never be garbage-collected (its poll handle is never uv_close()d, so a freed
 *   Cap leaves a dangling entry in libuv's handle list): every Cap is referenced until the agent exits;
 * - when open() throws after creating the pcap handle, close() stops a poll handle that was never
 *   initialised: the interface and the filter are checked before a Cap is even created;
 * - the native side keeps only a raw pointer to the frame buffer: the session holds it while open.
 */
class PcapSession {
  private static readonly everyCap: Cap[] = [];
  private readonly pcap: Cap;
  private buffer: Buffer | undefined = Buffer.alloc(SNAPLEN);

  /** `onFrame` gets each admitted frame, valid only during the call (the buffer is reused). */
  constructor(iface: string, filter: string, ringBytes: number, onFrame?: (data: Buffer) => void) {
    checkOpenable(iface, filter);
    this.pcap = new cap.Cap();
    PcapSession.everyCap.push(this.pcap);
    let linkType: string;
    try {
      linkType = this.pcap.open(iface, filter, ringBytes, this.buffer!);
    } catch (err) {
      throw new RequestError(`${iface} (filter '${filter}'): ${(err as Error).message}`);
    }
    if (linkType !== 'ETHERNET') {
      this.close();
      throw new RequestError(`${iface} is not an Ethernet interface (${linkType})`);
    }
    const buffer = this.buffer!;
    if (onFrame) this.pcap.on('packet', (nbytes: number) => onFrame(buffer.subarray(0, nbytes)));
  }

  send(frame: Buffer): void {
    this.pcap.send(frame, frame.length);
  }

  close(): void {
    if (!this.buffer) return;
    this.pcap.close();
    this.pcap.removeAllListeners();
    this.buffer = undefined; // the closed handle writes no more frames
  }
}

function open(iface: string): PcapSession {
  let session = injectors.get(iface);
  if (!session) {
    session = new PcapSession(iface, MATCH_NOTHING, INJECT_RING_BYTES);
    injectors.set(iface, session);
  }
  return session;
}

function inject(iface: string, hex: string): Answer {
  const session = injectors.get(iface);
  if (!session) throw new RequestError(`interface ${iface} is not open (send 'open' first)`);
  if (!/^([0-9a-f]{2})+$/i.test(hex)) throw new RequestError(`'frame' must be an even-length hex string`);
  const frame = Buffer.from(hex, 'hex');
  if (frame.length < 14) throw new RequestError(`frame of ${frame.length} bytes is shorter than an Ethernet header`);
  session.send(frame);
  return { bytes: frame.length };
}

/** The binding does not expose libpcap's header timestamp: frames are stamped when dispatched here. */
function nowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

function captureStart(iface: string, filter: string, path: string): Answer {
  const id = `c${nextCapture++}`;
  // Frames are dispatched from the event loop, so none arrives before `capture` below exists.
  const session = new PcapSession(iface, filter, CAPTURE_RING_BYTES, (data) => {
    const ts = nowUs();
    capture.records.push(serializePcap([{ timestampUs: ts, data, originalLength: data.length }]).subarray(24));
    capture.frames++;
    emit({ event: 'frame', capture: id, ts, hex: data.toString('hex') });
  });
  let fd: number;
  try {
    fd = openSync(path, 'w');
    writeSync(fd, serializePcap([]));
  } catch (err) {
    session.close();
    throw new RequestError(`cannot write ${path}: ${(err as Error).message}`);
  }
  const capture: Capture = { session, fd, frames: 0, records: [] };
  captures.set(id, capture);
  return { capture: id };
}

function captureStop(id: string): Answer {
  const capture = captures.get(id);
  if (!capture) throw new RequestError(`no capture '${id}'`);
  captures.delete(id);
  capture.session.close();
  writeRecords(capture);
  closeSync(capture.fd);
  return { frames: capture.frames };
}

let shuttingDown = false;

/** Closes every session and pcap file; the agent takes no more requests. */
function closeAll(): void {
  shuttingDown = true;
  for (const id of [...captures.keys()]) captureStop(id);
  for (const session of injectors.values()) session.close();
}

function shutdown(): void {
  if (shuttingDown) return;
  closeAll();
  flush();
  out.end(() => process.exit(0));
}

/** The codec client's script, checked for shape (the client trusts it). */
function dhcpScript(req: Request): DhcpClientScript {
  const script = req.script as DhcpClientScript | undefined;
  if (!script || typeof script !== 'object' || typeof script.iface !== 'string' || typeof script.linkLocal !== 'string' || !Array.isArray(script.steps))
    throw new RequestError("'script' must be a DHCPv6 client script ({iface, linkLocal, duid, iaids, steps, …})");
  return script;
}

function handle(req: Request): Answer | Promise<Answer> {
  switch (req.cmd) {
    case 'dhcp':
      return runDhcpClient(dhcpScript(req)).then((result) => ({ result }));
    case 'ping':
      return {};
    case 'open':
      open(stringArg(req, 'iface'));
      return {};
    case 'inject':
      return inject(stringArg(req, 'iface'), stringArg(req, 'frame'));
    case 'capture-start':
      return captureStart(stringArg(req, 'iface'), stringArg(req, 'filter', true), stringArg(req, 'pcap'));
    case 'capture-stop':
      return captureStop(stringArg(req, 'capture'));
    default:
      throw new RequestError(`unknown command ${JSON.stringify(req.cmd)} (commands: open, inject, capture-start, capture-stop, dhcp, ping, exit)`);
  }
}

function onLine(line: string): void {
  if (shuttingDown || !line.trim()) return;
  let req: Request;
  try {
    const parsed: unknown = JSON.parse(line);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
    req = parsed as Request;
  } catch (err) {
    emit({ id: null, error: `bad request line: ${(err as Error).message}` });
    return;
  }
  const id = typeof req.id === 'string' || typeof req.id === 'number' ? req.id : null;
  if (req.cmd === 'exit') {
    emit({ id, ok: true });
    return shutdown();
  }
  // libpcap's own errors (no such device, bad filter syntax) and a client's are answers too, not crashes.
  const failed = (err: unknown) => emit({ id, error: (err as Error).message });
  try {
    const answer = handle(req);
    if (answer instanceof Promise) answer.then((a) => !shuttingDown && emit({ id, ok: true, ...a }), failed);
    else emit({ id, ok: true, ...answer });
  } catch (err) {
    failed(err);
  }
}

createInterface({ input: process.stdin, crlfDelay: Infinity }).on('line', onLine).on('close', shutdown);
process.on('SIGTERM', shutdown);
emit({ event: 'ready', pid: process.pid });
