/**
 * The drop proof of traffic-proof.ts (`expectDropped`), for many frames in one capture window: a
 * batch guards one instance's port in one direction, and each of its cells is one frame whose
 * verdict there is expected to be `pass` or `drop`. One batch is one window:
 *
 *   1. captures start where the frames enter (outgoing: the instance's hypervisor port; incoming: the
 *      hypervisor's uplink) and beyond (outgoing: the uplink; incoming: the instance's port);
 *   2. `before()`, then the controls: legitimate frames from the same sender that must all be seen
 *      beyond, or no cell is proved (a dead path cannot prove a drop: every cell is `inconclusive`);
 *   3. the window is 4 × the slowest control's latency, within 50 ms – 1 s;
 *   4. every cell's frame is sent from the same sender and awaited entering (bounded): a frame never
 *      seen entering is `not-entering`, nothing to prove;
 *   5. beyond is watched until the window has passed since the last frame entered (by the captures'
 *      timestamps; it ends early once every frame that entered has been seen beyond). Seen beyond is
 *      `passed`, absent is `dropped`;
 *   6. outgoing, with the reference driver: the drop rules of the instance's chain counted at least
 *      as many packets as frames were seen dropped, or those cells are not proved.
 *
 * Frames are recognised by their exact bytes, decoded or not (fragments too), so cells and controls
 * must be byte-for-byte distinct. A cell's outcome is data, never an assertion: the caller (the
 * threat matrix) reports and judges them all at once.
 */
import { ProbeAgent, type Capture, type SeenFrame } from './agent-client.ts';
import { instance, portOf, resolvePort, routers, uplinkOf, type Port } from './nodes.ts';
import { send } from './instance.ts';
import { dropCount } from './security-groups.ts';
import { evidence } from './watch.ts';
import { decodeFrame } from '../packet/frame.ts';
import { WaitTimeout } from '../os/wait.ts';
import type { InstancePlan } from '../pod/plan.ts';

/** How long the controls get to cross, and the cells to show up entering. */
const CONTROL_MS = 2000;
const ENTERING_MS = 2000;
/** The window: 4 × the slowest control's latency, within these bounds. */
const WINDOW_MIN_MS = 50;
const WINDOW_MAX_MS = 1000;

export interface ProbeCell {
  /** Stable, e.g. 'SGM-ns-resolution.src-other-slaac'. */
  id: string;
  /** The exact bytes to send; unique per cell (callers make them unique). */
  frame: Buffer;
  expect: 'pass' | 'drop';
}

export interface ProbeBatch {
  /**
   * Outgoing from an instance (sent out of its eth0), or incoming to it (injected `via` a port of
   * the pod, by default the first router's LAN port, "r1:lan").
   */
  guard: { from: string } | { to: string; via?: Port };
  /** Legitimate frames (unique bytes) from the same sender that must cross in the same window: the positive control. */
  controls: Buffer[];
  cells: ProbeCell[];
  /** Names the pcaps (evidence). */
  label: string;
  /** Done after the captures are live and before the controls (e.g. the instance opens a flow whose reply is a cell). */
  before?: () => Promise<void>;
}

export type Seen = 'passed' | 'dropped' | 'not-entering' | 'inconclusive';

export interface CellOutcome {
  id: string;
  expect: 'pass' | 'drop';
  seen: Seen;
  /** `seen` matches `expect` (passed for pass, dropped for drop) and nothing contradicts it. */
  ok: boolean;
  /** One line a reader understands: where and when the frame was seen, or why nothing was proved. */
  detail: string;
  /** The batch's pcaps: entering, then beyond. */
  evidence: string[];
}

export interface BatchProof {
  outcomes: CellOutcome[];
  /** The slowest control's latency (0 when a control did not cross). */
  controlLatencyMs: number;
  windowMs: number;
  /** Outgoing with the reference driver: packets the instance's drop rules counted while the cells were watched. */
  droppedCounted?: number;
}

interface Path {
  inst: InstancePlan;
  direction: 'out' | 'in';
  /** An instance's name (out of its eth0) or a port (`NODE:IFACE`). */
  sender: string;
  entering: Port;
  beyond: Port;
}

function pathOf(guard: ProbeBatch['guard']): Path {
  if ('from' in guard) {
    const inst = instance(guard.from);
    return { inst, direction: 'out', sender: inst.name, entering: portOf(inst), beyond: uplinkOf(inst) };
  }
  const inst = instance(guard.to);
  return { inst, direction: 'in', sender: guard.via ?? `${routers()[0]!.name}:lan`, entering: uplinkOf(inst), beyond: portOf(inst) };
}

/** The instance a batch guards: batches guarding different ones may share the pod's time. */
const guarded = (b: ProbeBatch) => ('from' in b.guard ? b.guard.from : b.guard.to);

/** A frame's bytes as a Map key: latin1 maps each byte to one character, so equal keys are equal bytes. */
const keyOf = (b: Buffer) => b.toString('latin1');

/**
 * When a capture first saw each of a list of frames (exact bytes), reading each captured frame
 * once: captures only ever append, so `update` starts where the last call stopped.
 */
class Sightings {
  /** First sighting of each frame, in µs (the capture's clock), or undefined. */
  readonly at: Array<number | undefined>;
  private readonly index = new Map<string, number>();
  private read = 0;
  private count = 0;

  constructor(frames: readonly Buffer[]) {
    this.at = frames.map(() => undefined);
    frames.forEach((f, i) => this.index.set(keyOf(f), i));
  }

  update(frames: readonly SeenFrame[]): this {
    for (; this.read < frames.length; this.read++) {
      const i = this.index.get(keyOf(frames[this.read]!.data));
      if (i !== undefined && this.at[i] === undefined) {
        this.at[i] = frames[this.read]!.timestampUs;
        this.count++;
      }
    }
    return this;
  }

  get all(): boolean {
    return this.count === this.at.length;
  }

  /** The latest first sighting, in ms, or undefined when none was seen. */
  lastMs(): number | undefined {
    const seen = this.at.filter((t): t is number => t !== undefined);
    return seen.length ? Math.max(...seen) / 1000 : undefined;
  }
}

/** Refuses a batch whose frames could be mistaken for one another, or that has no control. */
function checkBatch(b: ProbeBatch): void {
  if (!b.controls.length) throw new Error(`batch '${b.label}': no control frame (a batch needs a positive control, even when every cell is expected to pass)`);
  const ids = new Set<string>();
  const owner = new Map<string, string>();
  const claim = (frame: Buffer, who: string) => {
    const k = keyOf(frame);
    const before = owner.get(k);
    if (before !== undefined) throw new Error(`batch '${b.label}': ${who} has the same bytes as ${before} (frames are recognised by their bytes)`);
    owner.set(k, who);
  };
  b.controls.forEach((c, i) => claim(c, `control ${i + 1}`));
  for (const c of b.cells) {
    if (ids.has(c.id)) throw new Error(`batch '${b.label}': two cells are named '${c.id}'`);
    ids.add(c.id);
    claim(c.frame, `cell '${c.id}'`);
  }
}

/** A few words about a frame, for a reader of a detail line. */
function brief(frame: Buffer): string {
  try {
    const f = decodeFrame(frame);
    const what = f.icmpv6
      ? `ICMPv6 ${f.icmpv6.type}`
      : f.udp
        ? `UDP ${f.udp.srcPort}→${f.udp.dstPort}`
        : f.protocol !== undefined
          ? `protocol ${f.protocol}`
          : 'frame';
    return f.ipv6 ? `${what} ${f.ipv6.src} → ${f.ipv6.dst}` : `${what} from ${f.ethernet.src}`;
  } catch {
    return `${frame.length}-byte frame`;
  }
}

/**
 * Starts the sender's agent and opens its interface ahead of time, so the controls' latency is the
 * path's, not an agent's start (a synthetic instance sends through its host daemon: nothing to open).
 */
async function readySender(p: Path): Promise<void> {
  if (p.sender.includes(':')) {
    const at = resolvePort(p.sender);
    await (await ProbeAgent.in(at.ns)).open(at.iface);
  } else if (p.inst.kind === 'namespace') await (await ProbeAgent.in(p.inst.ns)).open('eth0');
}

async function startCapture(port: Port, label: string): Promise<Capture> {
  const at = resolvePort(port);
  return (await ProbeAgent.in(at.ns)).capture(at.iface, '', evidence(`${label}-${at.node}-${at.iface}`));
}

/** Starts every capture, or none: one that started is stopped when another fails. */
async function startCaptures(spots: Array<[Port, string]>): Promise<Capture[]> {
  const started = await Promise.allSettled(spots.map(([port, label]) => startCapture(port, label)));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  const ok = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  if (failed) {
    await Promise.allSettled(ok.map((c) => c.stop()));
    throw failed.reason;
  }
  return ok;
}

/** Resolves when `select` is satisfied or `ms` has passed (a timeout is an answer here, not an error). */
async function waitOrTimeout(capture: Capture, select: (fs: SeenFrame[]) => boolean, ms: number, what: string): Promise<boolean> {
  try {
    return await capture.waitForAny((fs) => select(fs), Math.max(1, ms), what);
  } catch (err) {
    if (err instanceof WaitTimeout) return false;
    throw err;
  }
}

const ms = (v: number) => `${v.toFixed(1)} ms`;

/** One batch, one window; see the file's comment. */
export async function proveBatch(batch: ProbeBatch): Promise<BatchProof> {
  checkBatch(batch);
  const p = pathOf(batch.guard);
  const frames = batch.cells.map((c) => c.frame);
  const fromTo = `${p.direction === 'out' ? 'from' : 'to'} ${p.inst.name}`;
  // The drop counters are read before anything is sent: what before() or the controls might make
  // the driver drop can only add to what it counts.
  const [captures, ready] = await Promise.allSettled([
    startCaptures([
      [p.entering, `${batch.label}-entering`],
      [p.beyond, `${batch.label}-beyond`],
    ]),
    Promise.all([p.direction === 'out' ? dropCount(p.inst, 'out') : undefined, readySender(p)]),
  ]);
  if (ready.status === 'rejected') {
    if (captures.status === 'fulfilled') await Promise.allSettled(captures.value.map((c) => c.stop()));
    throw ready.reason;
  }
  if (captures.status === 'rejected') throw captures.reason;
  const entering = captures.value[0]!;
  const beyond = captures.value[1]!;
  const [countedBefore] = ready.value;
  const files = [entering.file, beyond.file];
  const outcome = (c: ProbeCell, seen: Seen, detail: string, ok = seen === (c.expect === 'pass' ? 'passed' : 'dropped')): CellOutcome => ({
    id: c.id,
    expect: c.expect,
    seen,
    ok,
    detail,
    evidence: files,
  });

  const entered = new Sightings(frames);
  const passed = new Sightings(frames);
  let latencyMs: number;
  let windowMs: number;
  let cellsSentAt: number;
  let stoppedAt: number;
  try {
    await batch.before?.();

    // Positive control: the path is alive, and its slowest frame sets the window.
    const controlsSentAt = Date.now();
    await send(p.sender, ...batch.controls);
    const crossed = new Sightings(batch.controls);
    const alive = await waitOrTimeout(beyond, (fs) => crossed.update(fs).all, CONTROL_MS, `the ${batch.controls.length} control frames ${fromTo}`);
    if (!alive) {
      const seenEntering = new Sightings(batch.controls).update(entering.everyFrame());
      const k = crossed.at.findIndex((t) => t === undefined);
      const where = seenEntering.at[k] !== undefined ? `entered ${p.entering} but` : `was never seen entering ${p.entering} and`;
      const why = `control ${k + 1} of ${batch.controls.length} (${brief(batch.controls[k]!)}) ${where} did not cross to ${p.beyond} within ${CONTROL_MS / 1000} s: a dead path cannot prove a drop`;
      return { outcomes: batch.cells.map((c) => outcome(c, 'inconclusive', why, false)), controlLatencyMs: 0, windowMs: 0 };
    }
    latencyMs = Math.max(1, crossed.lastMs()! - controlsSentAt);
    windowMs = Math.min(WINDOW_MAX_MS, Math.max(WINDOW_MIN_MS, 4 * latencyMs));

    // The cells: all sent, then awaited entering.
    cellsSentAt = Date.now();
    if (frames.length) await send(p.sender, ...frames);
    await waitOrTimeout(entering, (fs) => entered.update(fs).all, ENTERING_MS, `the ${frames.length} cell frames ${fromTo} entering ${p.entering}`);

    // Beyond, for the window after the last one entered; done early once all that entered were seen beyond.
    const everyEnteredPassed = () => entered.at.every((t, i) => t === undefined || passed.at[i] !== undefined);
    for (;;) {
      const last = entered.update(entering.everyFrame()).lastMs();
      if (last === undefined) break;
      const left = last + windowMs - Date.now();
      if (left <= 0 || everyEnteredPassed()) break;
      await waitOrTimeout(beyond, (fs) => passed.update(fs) && everyEnteredPassed(), Math.ceil(left), `the cell frames ${fromTo} at ${p.beyond}`);
    }
    stoppedAt = Date.now();
  } finally {
    await Promise.all([entering.stop(), beyond.stop()]);
  }

  // What arrived up to the stop counts too: a frame seen beyond late still got through.
  entered.update(entering.everyFrame());
  passed.update(beyond.everyFrame());
  const rel = (us: number) => `+${ms(us / 1000 - cellsSentAt)}`;
  const outcomes = batch.cells.map((c, i): CellOutcome => {
    const inAt = entered.at[i];
    const outAt = passed.at[i];
    if (outAt !== undefined) {
      const where =
        inAt !== undefined
          ? `entered ${p.entering} at ${rel(inAt)}, seen at ${p.beyond} ${rel(outAt)}`
          : `seen at ${p.beyond} ${rel(outAt)} (its entering ${p.entering} was not captured)`;
      return outcome(c, 'passed', `${where}${c.expect === 'drop' ? ' although the policy drops it' : ''}`);
    }
    if (inAt === undefined)
      return outcome(
        c,
        'not-entering',
        `never seen entering ${p.entering} within ${ENTERING_MS / 1000} s of being sent from ${p.sender}: nothing to prove (the sender or the kernel did not put it on the wire)`,
        false,
      );
    const watched = stoppedAt - inAt / 1000;
    if (watched < windowMs)
      return outcome(
        c,
        'inconclusive',
        `entered ${p.entering} at ${rel(inAt)}, too late to be watched for the window (${ms(watched)} of ${ms(windowMs)}): nothing proved`,
        false,
      );
    return outcome(
      c,
      'dropped',
      `entered ${p.entering} at ${rel(inAt)}, absent from ${p.beyond} for the ${ms(watched)} watched after it (window ${ms(windowMs)})${c.expect === 'pass' ? ' although the policy passes it' : ''}`,
    );
  });

  // The reference driver must have counted what it dropped.
  let droppedCounted: number | undefined;
  if (countedBefore !== undefined) {
    droppedCounted = (await dropCount(p.inst, 'out'))! - countedBefore;
    const dropped = outcomes.filter((o) => o.seen === 'dropped');
    if (droppedCounted < dropped.length)
      for (const o of dropped) {
        o.ok = false;
        o.detail = `the driver's drop counters rose by ${droppedCounted} for ${dropped.length} dropped frames (${o.detail})`;
      }
  }
  return { outcomes, controlLatencyMs: latencyMs, windowMs, ...(droppedCounted !== undefined ? { droppedCounted } : {}) };
}

/**
 * Runs the batches, `concurrency` at a time (default one), never two guarding the same instance at
 * once (their windows and drop counters would mix); the outcomes come back in the batches' order.
 * On the default pod a batch of 40 frames takes ~0.35 s once the agents run; 8 batches of 200
 * frames at concurrency 4 and 8 gave the same outcomes as one at a time, in about half the time.
 * One stays the default: a loaded machine slows the capture agents, and an incoming batch has no
 * drop counters to catch a frame its capture missed.
 * The first batch that throws stops new ones from starting, and its error is thrown once the
 * running ones have finished.
 */
export async function proveBatches(batches: ProbeBatch[], concurrency = 1): Promise<CellOutcome[]> {
  const results: CellOutcome[][] = batches.map(() => []);
  const queue = batches.map((_, i) => i);
  const busy = new Set<string>();
  const sleepers: Array<() => void> = [];
  let failure: { err: unknown } | undefined;

  const worker = async (): Promise<void> => {
    while (queue.length && !failure) {
      const k = queue.findIndex((i) => !busy.has(guarded(batches[i]!)));
      if (k < 0) {
        await new Promise<void>((r) => sleepers.push(r));
        continue;
      }
      const i = queue.splice(k, 1)[0]!;
      const who = guarded(batches[i]!);
      busy.add(who);
      try {
        results[i] = (await proveBatch(batches[i]!)).outcomes;
      } catch (err) {
        failure ??= { err };
      } finally {
        busy.delete(who);
        for (const wake of sleepers.splice(0)) wake();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, batches.length)) }, worker));
  if (failure) throw failure.err;
  return results.flat();
}
