/**
 * The two verdicts about traffic at an instance's port, each proved with captured packets kept
 * under the run's artifacts:
 *
 *   expectDelivered  the frames are seen beyond the port (allowed traffic);
 *   expectDropped    the one drop proof: a legitimate control frame crosses first, in the same
 *                    window (so the path is alive, and its latency L sets the window: 4×L within
 *                    50 ms – 1 s); then the offending frames are captured entering the guarded point
 *                    and are absent beyond it for at least the window after the last one entered;
 *                    and, with the reference driver, the counter of the rule that matched goes up.
 *
 * Direction: `from: vm` guards what leaves the instance (entering: its hypervisor port; beyond: the
 * hypervisor's uplink); `to: vm` guards what reaches it (frames injected `via` a router's LAN port;
 * entering: the hypervisor's uplink; beyond: the instance's port). Another port may be named to
 * watch beyond instead: `notBeyond` (expectDropped), `beyond` (expectDelivered).
 *
 * Frames the harness builds (one, or several in one window) are proved by batch-proof.ts, one batch
 * a call: expectDropped's control is the batch's control and its frames cells expected dropped
 * (the reference driver's drop counters must also have counted them); expectDelivered's frames are
 * the controls of a batch without cells. A real tool's frames are not known in advance — a tool run
 * to completion in the instance (`{ run, sends }`), or one that answers what it sees (`{ serve,
 * answers }`), started first and provoked by the control (`{ provoke, expect, at }`) — so they are
 * recognised by a pattern and proved here, with batch-proof's pieces.
 */
import { expect } from 'chai';
import type { Capture, SeenFrame } from './agent-client.ts';
import type { Port } from './nodes.ts';
import { send } from './instance.ts';
import { matches, sameBytes, type FrameMatch } from './frame-match.ts';
import { ruleCount } from './security-groups.ts';
import { inNode, startTool, type RunningTool } from './tools.ts';
import {
  CONTROL_MS,
  ENTERING_MS,
  fromTo,
  pathOf,
  proveBatch,
  startCaptures,
  waitOrTimeout,
  watchUntilWindow,
  windowFor,
  type Guarded,
  type Path,
  type ProbeCell,
} from './batch-proof.ts';
import { buildFrame, type Frame } from '../packet/frame.ts';

/** A provocation's answer comes from another node, and a provoked tool may resolve its victim's address before it answers. */
const PROVOKED_CONTROL_MS = 3000;
const TOOL_ANSWER_MS = 3000;

/** A real attack tool run inside the attacking instance, after the control, to completion; `sends` recognises its frames. */
export interface ToolRun {
  run: string[];
  sends: FrameMatch;
}

/** A real attack tool that answers what it sees: started before the control, whose provocation it answers; `answers` recognises them. */
export interface ToolServe {
  serve: string[];
  answers: FrameMatch;
}

/** Frames the harness puts on the wire (several are sent in one window), or a real tool. */
export type Offending = Frame | Buffer | ReadonlyArray<Frame | Buffer> | ToolRun | ToolServe;

/**
 * A control that is not a frame of the sender's (for a real tool): `provoke` makes a legitimate
 * frame appear (and, with a serving tool, the attacker's answer), which must be seen at `at`.
 */
export interface ProvokedControl {
  provoke: () => Promise<void>;
  /** The legitimate frame: a pattern, or the exact frame (bytes) that must cross. */
  expect: FrameMatch | Frame | Buffer;
  at: Port;
}

/** Whose port, which way (`from`, or `to` and `via`; see the file's comment), and the rule that must count. */
export interface Guard extends Guarded {
  /** With the reference driver: the rule (its comment) whose counter must go up. */
  rule?: string;
}

export interface DropOptions extends Guard {
  /**
   * The legitimate frame from the same sender that must cross in the same window; a real tool may
   * instead be proved with a provocation.
   */
  control: Frame | Buffer | ProvokedControl;
  /** Where the offending frames must not appear, and the control must cross (default: beyond the port, see the file's comment). */
  notBeyond?: Port;
}

export interface DropProof {
  controlLatencyMs: number;
  windowMs: number;
  /** Offending frames seen entering. */
  offending: number;
  /** The pcaps: entering, and each place beyond. */
  entering: string;
  beyond: string[];
}

const wire = (f: Frame | Buffer) => (Buffer.isBuffer(f) ? f : buildFrame(f));
const framesOf = (f: Frame | Buffer | ReadonlyArray<Frame | Buffer>) =>
  (Array.isArray(f) ? (f as ReadonlyArray<Frame | Buffer>) : [f as Frame | Buffer]).map(wire);
const isTool = (o: Offending): o is ToolRun | ToolServe => !Buffer.isBuffer(o) && !Array.isArray(o) && ('run' in o || 'serve' in o);
const isProvoked = (c: DropOptions['control']): c is ProvokedControl => !Buffer.isBuffer(c) && 'provoke' in c;

/**
 * The reference driver's counter of `rule` (nothing to read without a rule, or with another driver):
 * read at once — await `ready()` before sending anything — and again by `again()` once all is sent
 * and watched; `check(packets)` wants it to have counted at least that many in between.
 */
function ruleCounter(p: Path, rule: string | undefined) {
  const read = () => (rule ? ruleCount(p.inst, rule, p.direction) : Promise.resolve(undefined));
  const before = read();
  let after: Promise<number | undefined> | undefined;
  const again = () => (after ??= before.then((was) => (was === undefined ? undefined : read())));
  before.catch(() => undefined); // thrown where it is awaited
  return {
    ready: () => before.then(() => undefined),
    again: () => again().then(() => undefined),
    async check(packets: number): Promise<void> {
      const was = await before;
      if (was === undefined) return;
      const now = (await again())!;
      expect(now - was, `packets counted by rule '${rule}' (${fromTo(p)}) on ${p.inst.hypervisor}`).to.be.at.least(packets);
    },
  };
}

/** A frame given as a pattern, a Frame or its bytes, as a test of captured frames. */
function asMatch(m: FrameMatch | Frame | Buffer): FrameMatch {
  if (Buffer.isBuffer(m)) return sameBytes(m);
  if (typeof m === 'object' && 'ethernet' in m) return sameBytes(buildFrame(m));
  return m;
}

/**
 * Proves frames are delivered: sent from the instance (`from`) each is seen beyond its hypervisor's
 * uplink, or — incoming (`to`), injected `via` a router's port — at the instance's port (or at
 * `beyond`, when given); with `rule`, the reference driver's accepting rule counted every one.
 */
export async function expectDelivered(
  frames: Frame | Buffer | ReadonlyArray<Frame | Buffer>,
  o: Guard & { beyond?: Port },
): Promise<{ latencyMs: number; capture: string }> {
  const p = pathOf(o, o.beyond);
  const all = framesOf(frames);
  const counter = ruleCounter(p, o.rule);
  const label = `${fromTo(p).replace(' ', '-')}-allowed`;
  const proof = await proveBatch({ guard: o, beyond: o.beyond, controls: all, cells: [], label, before: counter.ready, after: counter.again });
  if (proof.stalled) {
    const which = all.length > 1 ? `allowed frame ${proof.stalled.control + 1} of ${all.length}` : 'the allowed frame';
    expect.fail(`${which} ${fromTo(p)} ${proof.stalled.detail}: NOT delivered (captures ${proof.evidence.join(', ')})`);
  }
  await counter.check(all.length);
  return { latencyMs: proof.controlLatencyMs, capture: proof.evidence[1]! };
}

/** The drop proof; see the file's comment. */
export async function expectDropped(offending: Offending, o: DropOptions): Promise<DropProof> {
  const p = pathOf(o, o.notBeyond);
  if (isTool(offending)) return toolDropped(offending, p, o);
  if (isProvoked(o.control))
    throw new Error('frames the harness sends are proved with a control frame from the same sender: a provoked control is for a real tool');
  return framesDropped(framesOf(offending), wire(o.control), p, o);
}

/** Frames the harness sends: one batch, its cells expected dropped, every one counted by `rule`. */
async function framesDropped(frames: Buffer[], control: Buffer, p: Path, o: DropOptions): Promise<DropProof> {
  const counter = ruleCounter(p, o.rule);
  const cells = frames.map((frame, k): ProbeCell => ({ id: `${k + 1}`, frame, expect: 'drop' }));
  const proof = await proveBatch({
    guard: o,
    beyond: o.notBeyond,
    controls: [control],
    cells,
    label: p.inst.name,
    before: counter.ready,
    after: counter.again,
  });
  const captures = `captures ${proof.evidence.join(', ')}`;
  if (proof.stalled) expect.fail(`the control frame ${fromTo(p)} ${proof.stalled.detail} (positive control: a dead path cannot prove a drop; ${captures})`);
  const failed = proof.outcomes
    .filter((c) => !c.ok)
    .map((c) => {
      const which = frames.length > 1 ? `offending frame ${c.id} of ${frames.length} ${fromTo(p)}` : `the frame ${fromTo(p)}`;
      return `${which} ${c.seen === 'passed' ? 'was NOT dropped' : 'was not proved dropped'}: ${c.detail}`;
    });
  if (failed.length) expect.fail(`${failed.join('; ')} (${captures})`);
  await counter.check(frames.length);
  return {
    controlLatencyMs: proof.controlLatencyMs,
    windowMs: proof.windowMs,
    offending: frames.length,
    entering: proof.evidence[0]!,
    beyond: [proof.evidence[1]!],
  };
}

/**
 * A real tool's frames, recognised by a pattern: captured entering the instance's port and absent
 * beyond it (and where a provoked control is awaited) for the window after the last one entered.
 * The rule counted one at least: how many the tool sends is its business.
 */
async function toolDropped(tool: ToolRun | ToolServe, p: Path, o: DropOptions): Promise<DropProof> {
  if (p.direction !== 'out') throw new Error('a real tool attacks from the instance it runs in: use from');
  const provoked = isProvoked(o.control) ? o.control : undefined;
  const controlAt = provoked?.at ?? p.beyond;
  const spots = [...new Set([p.beyond, controlAt])];
  if (spots.includes(p.entering))
    throw new Error(`${p.entering} is where the offending frames enter: it cannot also be where they must be absent (or where the control is awaited)`);
  const run = 'run' in tool ? tool : undefined;
  const argv = run?.run ?? (tool as ToolServe).serve;
  const isOffending = run?.sends ?? (tool as ToolServe).answers;
  const offendingIn = (fs: SeenFrame[]) => fs.filter((f) => matches(f, isOffending));
  const toolText = argv.join(' ').replace(/\s+/g, ' ');
  const label = argv[0]!.replace(/[^a-z0-9]+/gi, '-');

  const counter = ruleCounter(p, o.rule);
  const [entering, ...beyond] = (await startCaptures([[p.entering, `${label}-entering`], ...spots.map((s): [Port, string] => [s, `${label}-beyond`])])) as [
    Capture,
    ...Capture[],
  ];
  let serving: RunningTool | undefined;
  let toolSaid = '';
  let timing: { latencyMs: number; windowMs: number };
  let controlSentAt: number;
  let stoppedAt: number;
  try {
    await counter.ready();
    if (!run) serving = await startTool(p.inst, argv);

    // Positive control: the path is alive, and its latency sets the window.
    controlSentAt = Date.now();
    let control: FrameMatch;
    if (provoked) {
      await provoked.provoke();
      control = asMatch(provoked.expect);
    } else {
      const bytes = wire(o.control as Frame | Buffer);
      await send(p.sender, bytes);
      control = sameBytes(bytes);
    }
    const seen = await beyond[spots.indexOf(controlAt)]!.waitForAny(
      (fs) => fs.find((f) => matches(f, control)),
      provoked ? PROVOKED_CONTROL_MS : CONTROL_MS,
      `the ${provoked ? 'legitimate answer' : `control frame ${fromTo(p)}`} at ${controlAt} (positive control: a dead path cannot prove a drop)`,
    );
    timing = windowFor(controlSentAt, seen.timestampUs / 1000);

    // The tool's frames, seen entering.
    if (run) {
      const r = await inNode(p.inst, run.run, { allowFailure: true, timeoutMs: 10_000 });
      toolSaid = `exit ${r.exitCode}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').slice(-1)[0]}` : ''}`;
    }
    const entered = await waitOrTimeout(
      entering,
      (fs) => fs.some((f) => matches(f, isOffending)),
      run ? ENTERING_MS : TOOL_ANSWER_MS,
      `${argv[0]}'s frames entering ${p.entering}`,
    );
    if (!entered) {
      if (serving) toolSaid = serving.output() || 'nothing';
      expect.fail(`${toolText} never entered ${p.entering}: nothing to prove dropped (capture ${entering.file}${toolSaid ? `; tool: ${toolSaid}` : ''})`);
    }
    // A serving tool has answered: stop it, so no answer comes after the window is counted.
    await serving?.stop();

    // Absent beyond for the window after the last one entered (a frame seen beyond ends the watch).
    const lastEnteredMs = () => Math.max(...offendingIn(entering.everyFrame()).map((f) => f.timestampUs / 1000));
    stoppedAt = await watchUntilWindow(beyond[0]!, lastEnteredMs, timing.windowMs, (fs) => offendingIn(fs).length > 0, `${argv[0]}'s frames at ${spots[0]}`);
  } finally {
    await serving?.stop();
    await Promise.all([entering, ...beyond].map((c) => c.stop()));
  }

  const sent = offendingIn(entering.everyFrame());
  spots.forEach((spot, i) => {
    const leaked = offendingIn(beyond[i]!.everyFrame());
    if (leaked.length)
      expect.fail(
        `${toolText}: ${leaked.length} of its ${sent.length} frames were NOT dropped: seen on ${spot} ${(leaked[0]!.timestampUs / 1000 - controlSentAt).toFixed(1)} ms after the control was sent (captures ${entering.file}, ${beyond[i]!.file})`,
      );
  });
  const lastMs = Math.max(...sent.map((f) => f.timestampUs / 1000));
  expect(stoppedAt - lastMs, `ms watched after ${argv[0]}'s frames last entered ${p.entering} (window ${timing.windowMs} ms)`).to.be.at.least(timing.windowMs);
  await counter.check(1);
  return {
    controlLatencyMs: timing.latencyMs,
    windowMs: timing.windowMs,
    offending: sent.length,
    entering: entering.file,
    beyond: beyond.map((c) => c.file),
  };
}
