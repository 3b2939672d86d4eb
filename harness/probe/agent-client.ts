/**
 * The driving side of the probe agent (agent.ts): spawns it inside a namespace, speaks its JSON
 * lines, and turns its frame events into Capture handles that scenarios wait on (`file`,
 * `frames()`, `waitFor()`, `stop()`): waits are woken by each arriving frame, never by a timer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { buildFrame, decodeFrame, type DecodedFrame, type Frame } from '../packet/frame.ts';
import { DecodeError } from '../packet/errors.ts';
import { WaitTimeout } from '../os/wait.ts';
import { nodeArgv } from '../os/runnable.ts';
import type { DhcpClientResult, DhcpClientScript } from './dhcp-client.ts';

const AGENT = fileURLToPath(new URL('./agent.ts', import.meta.url));
/** How much of the agent's stderr is kept to explain a failure. */
const STDERR_TAIL = 4096;

export interface ProbeAgentOptions {
  /** Deadline for the agent to start and say it is ready (default 10 s: loading tsx takes ~0.5 s). */
  readyTimeoutMs?: number;
  /** Deadline for each answer (default 5 s). */
  requestTimeoutMs?: number;
}

/** A frame a capture saw: when, its bytes as they were on the wire, and its layers when the codecs decode it. */
export interface SeenFrame {
  timestampUs: number;
  data: Buffer;
  frame?: DecodedFrame;
}

/** A frame a capture saw that the codecs decode. */
export interface CapturedFrame extends SeenFrame {
  frame: DecodedFrame;
}

type Answer = Record<string, unknown>;

interface Pending {
  cmd: string;
  resolve: (answer: Answer) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** Agents still running, killed if this process exits without closing them. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export class ProbeAgent {
  private static readonly shared = new Map<string, Promise<ProbeAgent>>();
  private readonly pending = new Map<number, Pending>();
  private readonly captures = new Map<string, Capture>();
  private readonly opened = new Map<string, Promise<void>>();
  private nextId = 1;
  private stderr = '';
  private exited: string | undefined;
  private readonly ready: Promise<void>;

  private constructor(
    readonly ns: string,
    private readonly child: ChildProcess,
    private readonly requestTimeoutMs: number,
  ) {
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr = (this.stderr + d).slice(-STDERR_TAIL)));
    child.stdin!.on('error', () => undefined); // a dead agent's pipe; its exit explains it
    let onReady!: () => void;
    let onFail!: (err: Error) => void;
    this.ready = new Promise((resolve, reject) => {
      onReady = resolve;
      onFail = reject;
    });
    createInterface({ input: child.stdout!, crlfDelay: Infinity }).on('line', (line) => this.onLine(line, onReady));
    child.once('exit', (code, signal) => {
      live.delete(child);
      this.forgetIfShared();
      this.exited = `probe agent in ${ns} exited (${signal ?? `exit ${code}`})${this.stderrTail()}`;
      const err = new Error(this.exited);
      onFail(err);
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(err);
      }
      this.pending.clear();
      for (const c of this.captures.values()) c.ended(this.exited);
      this.captures.clear();
    });
  }

  /** Starts an agent in namespace `ns` and waits (bounded) for its ready line. */
  static async start(ns: string, opts: ProbeAgentOptions = {}): Promise<ProbeAgent> {
    const child = spawn('ip', ['netns', 'exec', ns, ...nodeArgv(AGENT)], { stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(child);
    const agent = new ProbeAgent(ns, child, opts.requestTimeoutMs ?? 5000);
    const readyMs = opts.readyTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new WaitTimeout(`timed out after ${(readyMs / 1000).toFixed(1)} s waiting for the probe agent in ${ns} to start${agent.stderrTail()}`)),
        readyMs,
      );
    });
    try {
      await Promise.race([agent.ready, deadline]);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return agent;
  }

  /** One agent per namespace shared by every caller in this process, started on first use. */
  static in(ns: string): Promise<ProbeAgent> {
    let agent = ProbeAgent.shared.get(ns);
    if (!agent) {
      agent = ProbeAgent.start(ns);
      agent.catch(() => ProbeAgent.shared.delete(ns)); // a failed start may be retried
      ProbeAgent.shared.set(ns, agent);
    }
    return agent;
  }

  /** Closes the shared agents (at the end of a scenario run; process exit kills them anyway). */
  static async closeShared(): Promise<void> {
    const agents = [...ProbeAgent.shared.values()];
    ProbeAgent.shared.clear();
    await Promise.all(
      agents.map((a) =>
        a.then(
          (agent) => agent.close(),
          () => undefined,
        ),
      ),
    );
  }

  /** Sends one command and resolves with its answer; `onAnswer` runs before any later line is read. */
  request(cmd: string, args: Answer = {}, onAnswer?: (answer: Answer) => void, timeoutMs = this.requestTimeoutMs): Promise<Answer> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new WaitTimeout(`probe agent in ${this.ns} did not answer '${cmd}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        cmd,
        timer,
        reject,
        resolve: (answer) => {
          onAnswer?.(answer);
          resolve(answer);
        },
      });
      this.child.stdin!.write(`${JSON.stringify({ ...args, id, cmd })}\n`);
    });
  }

  /** Runs the codec DHCPv6 client in the agent's namespace (dhcp-client.ts); answered when its steps are done. */
  async dhcp(script: DhcpClientScript): Promise<DhcpClientResult> {
    // Each step waits for its answer at most its timeout: the request gets all of them and a margin.
    const timeoutMs = script.steps.length * (script.timeoutMs ?? 3000) * 2 + 5000;
    return (await this.request('dhcp', { script: script as unknown as Answer }, undefined, timeoutMs)).result as DhcpClientResult;
  }

  async ping(): Promise<void> {
    await this.request('ping');
  }

  /** Opens the interface for injection once, however many injections race for it. */
  open(iface: string): Promise<void> {
    let opened = this.opened.get(iface);
    if (!opened) {
      opened = this.request('open', { iface }).then(() => undefined);
      opened.catch(() => this.opened.delete(iface)); // a failed open may be retried
      this.opened.set(iface, opened);
    }
    return opened;
  }

  /** Sends a whole Ethernet frame out of `iface` (a Frame is built with the codec first). */
  async inject(iface: string, frame: Buffer | Frame): Promise<void> {
    const bytes = Buffer.isBuffer(frame) ? frame : buildFrame(frame);
    await this.open(iface);
    await this.request('inject', { iface, frame: bytes.toString('hex') });
  }

  /** Starts a capture of the frames `filter` (BPF, as tcpdump takes it) admits on `iface`, kept in `pcapPath`. */
  async capture(iface: string, filter: string, pcapPath: string): Promise<Capture> {
    const handle = new Capture(this, pcapPath, `${iface} in ${this.ns}`);
    // Registered synchronously with the answer, so frame events right behind it are not lost.
    await this.request('capture-start', { iface, filter, pcap: pcapPath }, (answer) => {
      handle.id = String(answer.capture);
      this.captures.set(handle.id, handle);
    });
    return handle;
  }

  /** Asks the agent to exit (it closes its captures and pcaps), killing it if it does not in time. */
  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    this.request('exit').catch(() => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), this.requestTimeoutMs);
    await gone;
    clearTimeout(timer);
  }

  /** @internal used by Capture.stop: frame events ahead of the answer still reach the handle. */
  async stopCapture(id: string): Promise<void> {
    try {
      await this.request('capture-stop', { capture: id });
    } finally {
      this.captures.delete(id);
    }
  }

  private onLine(line: string, onReady: () => void): void {
    let msg: Answer;
    try {
      msg = JSON.parse(line) as Answer;
    } catch {
      return; // not a protocol line (the agent writes only JSON; anything else is noise)
    }
    if (msg.event === 'frame') {
      this.captures.get(String(msg.capture))?.add(Number(msg.ts), Buffer.from(String(msg.hex), 'hex'));
      return;
    }
    if (msg.event === 'ready') return onReady();
    const pending = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined;
    if (!pending) return;
    this.pending.delete(msg.id as number);
    clearTimeout(pending.timer);
    if (typeof msg.error === 'string') pending.reject(new Error(`probe agent in ${this.ns}: '${pending.cmd}' failed: ${msg.error}`));
    else pending.resolve(msg);
  }

  /** A shared agent that died is forgotten, so the next caller of `in` starts a fresh one. */
  private forgetIfShared(): void {
    const entry = ProbeAgent.shared.get(this.ns);
    entry?.then(
      (agent) => agent === this && ProbeAgent.shared.delete(this.ns),
      () => undefined,
    );
  }

  private stderrTail(): string {
    // The binding warns on every open of an interface without IPv4: noise here.
    const lines = this.stderr.split('\n').filter((l) => l.trim() && !l.endsWith('This may not actually work'));
    const tail = lines.slice(-3).join(' | ');
    return tail ? `: ${tail}` : '';
  }
}

interface Waiter {
  /** Waits on every frame (undecodable ones too), or only on those the codecs decode. */
  everyFrame: boolean;
  check: (frames: SeenFrame[]) => boolean;
  fail: (reason: string) => void;
}

/**
 * One running capture in an agent: the frames it has seen — decoded where the codecs can, raw
 * otherwise (a later fragment, a real tool's malformed message) — and waits woken by new frames.
 */
export class Capture {
  /** The agent's capture id, set when the agent accepts the capture. */
  id = '';
  private readonly decoded: CapturedFrame[] = [];
  private readonly seen: SeenFrame[] = [];
  private readonly waiters = new Set<Waiter>();
  private endedBecause: string | undefined;

  /** @internal created by ProbeAgent.capture */
  constructor(
    private readonly agent: ProbeAgent,
    readonly file: string,
    private readonly where: string,
  ) {}

  /** A capture on the namespace's shared agent, written to `file` as it goes. */
  static async start(ns: string, iface: string, file: string, filter = 'ip6'): Promise<Capture> {
    return (await ProbeAgent.in(ns)).capture(iface, filter, file);
  }

  /** Frames captured so far that the codecs decode. */
  frames(): CapturedFrame[] {
    return this.decoded.slice();
  }

  /** Every frame captured so far, decoded or not. */
  everyFrame(): SeenFrame[] {
    return this.seen.slice();
  }

  /** Resolves on the first decoded frame after which `select` finds what it needs (checked at once, too). */
  waitFor<T>(select: (frames: CapturedFrame[]) => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
    return this.wait(false, select as (frames: SeenFrame[]) => T | undefined | false, timeoutMs, what);
  }

  /** As waitFor, over every frame: those the codecs cannot decode too (their `frame` is absent). */
  waitForAny<T>(select: (frames: SeenFrame[]) => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
    return this.wait(true, select, timeoutMs, what);
  }

  /** The first decoded frame `match` accepts, waited for. */
  first(match: (f: CapturedFrame) => unknown, timeoutMs: number, what: string): Promise<CapturedFrame> {
    return this.waitFor((fs) => fs.find(match), timeoutMs, what);
  }

  private wait<T>(everyFrame: boolean, select: (frames: SeenFrame[]) => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
    const about = `${what} on ${this.where} (capture ${this.file})`;
    return new Promise<T>((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      const waiter: Waiter = {
        everyFrame,
        check: (frames) => {
          let found: T | undefined | false;
          try {
            found = select(frames);
          } catch (err) {
            finish();
            reject(err as Error);
            return true;
          }
          if (found === undefined || found === false) return false;
          finish();
          resolve(found);
          return true;
        },
        fail: (reason) => {
          finish();
          reject(new Error(`capture ended (${reason}) before ${about}`));
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new WaitTimeout(`timed out after ${(timeoutMs / 1000).toFixed(1)} s waiting for ${about}`));
      }, timeoutMs);
      this.waiters.add(waiter);
      if (!waiter.check(everyFrame ? this.everyFrame() : this.frames()) && this.endedBecause) waiter.fail(this.endedBecause);
    });
  }

  /** Stops the capture; the pcap is complete when this resolves, and frames() holds what it holds. */
  async stop(): Promise<void> {
    if (this.endedBecause) return;
    try {
      await this.agent.stopCapture(this.id);
    } finally {
      this.ended('stopped');
    }
  }

  /** @internal a frame event from the agent */
  add(timestampUs: number, data: Buffer): void {
    let frame: DecodedFrame | undefined;
    try {
      frame = decodeFrame(data);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
    }
    if (frame) {
      const captured: CapturedFrame = { timestampUs, data, frame };
      this.seen.push(captured);
      this.decoded.push(captured);
    } else this.seen.push({ timestampUs, data });
    if (!this.waiters.size) return;
    let all: SeenFrame[] | undefined;
    let decoded: CapturedFrame[] | undefined;
    for (const w of [...this.waiters]) {
      if (w.everyFrame) w.check((all ??= this.everyFrame()));
      else if (frame) w.check((decoded ??= this.frames()));
    }
  }

  /** @internal no more frames will come */
  ended(reason: string): void {
    this.endedBecause ??= reason;
    for (const w of [...this.waiters]) w.fail(reason);
  }
}
