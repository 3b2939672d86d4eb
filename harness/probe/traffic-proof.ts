/**
 * The two verdicts about traffic at an instance's port, each proved with captured packets kept
 * under the run's artifacts:
 *
 *   expectDelivered  the frame is seen beyond the port (allowed traffic);
 *   expectDropped    the one drop proof: a legitimate control frame crosses first, in the same
 *                    window (so the path is alive, and its latency L sets the window: 4×L within
 *                    50 ms – 1 s); then the offending frames are captured entering the guarded point
 *                    and are absent beyond it for at least the window after the last one entered;
 *                    and, with the reference driver, the counter of the rule that matched goes up.
 *
 * Direction: `from: vm` guards what leaves the instance (entering: its hypervisor port; beyond: the
 * hypervisor's uplink); `to: vm` guards what reaches it (frames injected `via` a router's LAN port;
 * entering: the hypervisor's uplink; beyond: the instance's port). What offends may be frames the
 * harness builds (one, or several in one window), a real tool run to completion in the instance
 * (`{ run, sends }`), or a real tool that answers what it sees (`{ serve, answers }`), started
 * first and provoked by the control (`{ provoke, expect, at }`).
 */
import { expect } from 'chai';
import { ProbeAgent, type Capture, type SeenFrame } from './agent-client.ts';
import { instance, portOf, resolvePort, routers, uplinkOf, type Port } from './nodes.ts';
import { send } from './instance.ts';
import { matches, sameBytes, type FrameMatch } from './frame-match.ts';
import { ruleCount } from './security-groups.ts';
import { inNode, startTool, type RunningTool } from './tools.ts';
import { evidence } from './watch.ts';
import { buildFrame, type Frame } from '../packet/frame.ts';
import { WaitTimeout } from '../os/wait.ts';
import type { InstancePlan } from '../pod/plan.ts';

/** How long the positive control and the offending frames get to show up. */
const CONTROL_MS = 2000;
const PROVOKED_CONTROL_MS = 3000;
const ENTERING_MS = 2000;
/** A provoked tool may resolve its victim's address before it answers. */
const TOOL_ANSWER_MS = 3000;
/** The window: 4 × the control's latency, within these bounds. */
const WINDOW_MIN_MS = 50;
const WINDOW_MAX_MS = 1000;

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
 * A control that is not a frame of the sender's: `provoke` makes a legitimate frame appear (and,
 * with a serving tool, the attacker's answer), which must be seen at `at`.
 */
export interface ProvokedControl {
  provoke: () => Promise<void>;
  /** The legitimate frame: a pattern, or the exact frame (bytes) that must cross. */
  expect: FrameMatch | Frame | Buffer;
  at: Port;
}

export interface Guard {
  /** The instance whose outgoing traffic is guarded (its name, or the plan of one a scenario deployed). */
  from?: string | InstancePlan;
  /** The instance whose incoming traffic is guarded. */
  to?: string | InstancePlan;
  /** Incoming: the port frames are injected on (default: the first router's LAN, "r1:lan"). */
  via?: Port;
  /** With the reference driver: the rule (its comment) whose counter must go up. */
  rule?: string;
}

export interface DropOptions extends Guard {
  /** The legitimate frame from the same sender (or a provocation) that must cross in the same window. */
  control: Frame | Buffer | ProvokedControl;
  /** Where the offending frames must not appear (default: beyond the port, see the file's comment). */
  notBeyond?: Port | Port[];
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

interface Path {
  inst: InstancePlan;
  direction: 'out' | 'in';
  sender: string | InstancePlan;
  entering: Port;
  beyond: Port;
}

function pathOf(g: Guard): Path {
  if ((g.from === undefined) === (g.to === undefined)) throw new Error('name exactly one of from (outgoing) or to (incoming)');
  if (g.from !== undefined) {
    const inst = instance(g.from);
    return { inst, direction: 'out', sender: inst, entering: portOf(inst), beyond: uplinkOf(inst) };
  }
  const inst = instance(g.to!);
  return { inst, direction: 'in', sender: g.via ?? `${routers()[0]!.name}:lan`, entering: uplinkOf(inst), beyond: portOf(inst) };
}

const wire = (f: Frame | Buffer) => (Buffer.isBuffer(f) ? f : buildFrame(f));
const isToolRun = (o: Offending): o is ToolRun => !Buffer.isBuffer(o) && !Array.isArray(o) && 'run' in o;
const isToolServe = (o: Offending): o is ToolServe => !Buffer.isBuffer(o) && !Array.isArray(o) && 'serve' in o;
const isProvoked = (c: DropOptions['control']): c is ProvokedControl => !Buffer.isBuffer(c) && 'provoke' in c;
const nameOf = (p: Path) => p.inst.name;

async function startCapture(port: Port, label: string): Promise<Capture> {
  const at = resolvePort(port);
  return (await ProbeAgent.in(at.ns)).capture(at.iface, '', evidence(`${label}-${at.node}-${at.iface}`));
}

/**
 * Runs `fn` and checks that the reference driver's `rule` counted at least `packets` packets in the
 * meantime (`packets` may depend on what `fn` saw); nothing to read with another driver.
 */
async function counting<T>(p: Path, rule: string | undefined, packets: number | ((result: T) => number), fn: () => Promise<T>): Promise<T> {
  if (!rule) return fn();
  const before = await ruleCount(p.inst, rule, p.direction);
  const result = await fn();
  if (before !== undefined) {
    const after = (await ruleCount(p.inst, rule, p.direction))!;
    const want = typeof packets === 'number' ? packets : packets(result);
    expect(after - before, `packets counted by rule '${rule}' (${p.direction === 'out' ? 'from' : 'to'} ${nameOf(p)}) on ${p.inst.hypervisor}`).to.be.at.least(
      want,
    );
  }
  return result;
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
  const p = pathOf(o);
  const at = o.beyond ?? p.beyond;
  const all = (Array.isArray(frames) ? (frames as ReadonlyArray<Frame | Buffer>) : [frames as Frame | Buffer]).map(wire);
  return counting(p, o.rule, all.length, async () => {
    const capture = await startCapture(at, `${p.direction === 'out' ? `from-${nameOf(p)}` : `to-${nameOf(p)}`}-allowed`);
    try {
      const sentAt = Date.now();
      await send(p.sender, ...all);
      const what = all.length > 1 ? `the ${all.length} allowed frames` : 'the allowed frame';
      const seen = await capture.waitForAny(
        (fs) => {
          const found = all.map((w) => fs.find(sameBytes(w)));
          return found.every(Boolean) ? found : undefined;
        },
        CONTROL_MS,
        `${what} ${p.direction === 'out' ? 'from' : 'to'} ${nameOf(p)} at ${at}`,
      );
      return { latencyMs: Math.max(...seen.map((f) => f!.timestampUs / 1000)) - sentAt, capture: capture.file };
    } finally {
      await capture.stop();
    }
  });
}

/** Waits `ms` (at least 1): the time a drop is watched for is part of what the proof claims. */
const watchFor = (ms: number) => new Promise((r) => setTimeout(r, Math.max(1, ms)));

/** The drop proof; see the file's comment. */
export async function expectDropped(offending: Offending, o: DropOptions): Promise<DropProof> {
  const p = pathOf(o);
  const provoked = isProvoked(o.control) ? o.control : undefined;
  const notBeyond = o.notBeyond === undefined ? [p.beyond] : Array.isArray(o.notBeyond) ? o.notBeyond : [o.notBeyond];
  const spots = [...new Set([...(provoked ? [provoked.at] : []), ...notBeyond])];
  const run = isToolRun(offending) ? offending : undefined;
  const serve = isToolServe(offending) ? offending : undefined;
  const frames = run || serve ? [] : (Array.isArray(offending) ? (offending as ReadonlyArray<Frame | Buffer>) : [offending as Frame | Buffer]).map(wire);
  const tool = run?.run ?? serve?.serve;
  if (tool && p.direction !== 'out') throw new Error('a real tool attacks from the instance it runs in: use from');
  if (spots.includes(p.entering))
    throw new Error(`${p.entering} is where the offending frames enter: it cannot also be where they must be absent (or where the control is awaited)`);
  const toolText = tool?.join(' ').replace(/\s+/g, ' ');
  const isOffending: FrameMatch = run?.sends ?? serve?.answers ?? ((f: SeenFrame) => frames.some((w) => f.data.equals(w)));
  const what = tool ? `${tool[0]}'s frames` : frames.length > 1 ? 'the offending frames' : 'the offending frame';
  const label = tool ? tool[0]!.replace(/[^a-z0-9]+/gi, '-') : nameOf(p);

  // Every frame the harness sent is counted; a tool's frames are the tool's business: one at least.
  return counting(
    p,
    o.rule,
    (proof: DropProof) => (tool ? 1 : proof.offending),
    async () => {
      const entering = await startCapture(p.entering, `${label}-entering`);
      const beyond = await Promise.all(spots.map((s) => startCapture(s, `${label}-beyond`)));
      let serving: RunningTool | undefined;
      let toolSaid = '';
      let windowMs: number;
      let latencyMs: number;
      let stoppedAt: number;
      let controlSentAt: number;
      try {
        if (serve) serving = await startTool(p.inst, serve.serve);

        // Positive control: the path is alive, and its latency sets the window.
        const sentAt = (controlSentAt = Date.now());
        let control: FrameMatch;
        if (provoked) {
          await provoked.provoke();
          control = asMatch(provoked.expect);
        } else {
          const bytes = wire(o.control as Frame | Buffer);
          await send(p.sender, bytes);
          control = sameBytes(bytes);
        }
        const controlAt = provoked?.at ?? spots[0]!;
        const seen = await beyond[spots.indexOf(controlAt)]!.waitForAny(
          (fs) => fs.find((f) => matches(f, control)),
          provoked ? PROVOKED_CONTROL_MS : CONTROL_MS,
          `the ${provoked ? 'legitimate answer' : `control frame ${p.direction === 'out' ? 'from' : 'to'} ${nameOf(p)}`} at ${controlAt} (positive control: a dead path cannot prove a drop)`,
        );
        latencyMs = Math.max(1, seen.timestampUs / 1000 - sentAt);
        windowMs = Math.min(WINDOW_MAX_MS, Math.max(WINDOW_MIN_MS, 4 * latencyMs));

        // The offending frames, seen entering.
        if (run) {
          const r = await inNode(p.inst, run.run, { allowFailure: true, timeoutMs: 10_000 });
          toolSaid = `exit ${r.exitCode}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').slice(-1)[0]}` : ''}`;
        } else if (!serve) await send(p.sender, ...frames);
        const enteredAll = (fs: SeenFrame[]) =>
          frames.length ? frames.every((w) => fs.some((f) => f.data.equals(w))) : fs.some((f) => matches(f, isOffending));
        try {
          await entering.waitForAny((fs) => enteredAll(fs), serve ? TOOL_ANSWER_MS : ENTERING_MS, `${what} entering ${p.entering}`);
        } catch (err) {
          if (!(err instanceof WaitTimeout)) throw err;
          if (serving) toolSaid = serving.output() || 'nothing';
          expect.fail(
            `${toolText ?? what} never entered ${p.entering}: nothing to prove dropped (capture ${entering.file}${toolSaid ? `; tool: ${toolSaid}` : ''})`,
          );
        }
        // A serving tool has answered: stop it, so no answer comes after the window is counted.
        await serving?.stop();

        // Absent beyond for the window after the last one entered.
        const lastEnteredMs = () =>
          Math.max(
            ...entering
              .everyFrame()
              .filter((f) => matches(f, isOffending))
              .map((f) => f.timestampUs / 1000),
          );
        while (Date.now() - lastEnteredMs() < windowMs) await watchFor(Math.ceil(lastEnteredMs() + windowMs - Date.now()));
        stoppedAt = Date.now();
      } finally {
        await serving?.stop();
        await Promise.all([entering.stop(), ...beyond.map((c) => c.stop())]);
      }

      const sent = entering.everyFrame().filter((f) => matches(f, isOffending));
      spots.forEach((spot, i) => {
        const leaked = beyond[i]!.everyFrame().filter((f) => matches(f, isOffending));
        if (!leaked.length) return;
        const fromTo = `${p.direction === 'out' ? 'from' : 'to'} ${nameOf(p)}`;
        const numbers = frames.flatMap((w, k) => (leaked.some((f) => f.data.equals(w)) ? [k + 1] : []));
        const which = tool
          ? `${toolText}: ${leaked.length} of its ${sent.length} frames were`
          : frames.length > 1
            ? `offending frame${numbers.length > 1 ? 's' : ''} ${numbers.join(', ')} of ${frames.length} ${fromTo} ${numbers.length > 1 ? 'were' : 'was'}`
            : `the frame ${fromTo} was`;
        expect.fail(
          `${which} NOT dropped: seen on ${spot} ${(leaked[0]!.timestampUs / 1000 - controlSentAt).toFixed(1)} ms after the control was sent (captures ${entering.file}, ${beyond[i]!.file})`,
        );
      });
      const lastMs = Math.max(...sent.map((f) => f.timestampUs / 1000));
      expect(stoppedAt - lastMs, `ms watched after ${what} last entered ${p.entering} (window ${windowMs} ms)`).to.be.at.least(windowMs);
      return { controlLatencyMs: latencyMs, windowMs, offending: sent.length, entering: entering.file, beyond: beyond.map((c) => c.file) };
    },
  );
}
