/**
 * The relay's route changes written straight to the kernel over rtnetlink instead of through an
 * `ip -batch` child: the same messages `ip route replace PREFIX via LL dev DEV proto P expires S`
 * and `ip route del PREFIX dev DEV proto P` send (route-netlink.test.ts holds the bytes to ip's),
 * many per sendmsg. Only the last message of a send asks for an acknowledgement; the kernel answers
 * a failed one with its error either way, so the answers are one per send plus one per failure.
 * Submissions within `coalesceMs` share one send, as they shared one write to `ip -batch`.
 */
import { endianness } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import { ipv6ToBytes } from '../addr/bytes.ts';
import { RouteNetlinkSocket } from '../io/route-netlink.ts';
import type { RouteChange, RouteChangeFailure, RouteWriter } from './routes.ts';

// linux/netlink.h, linux/rtnetlink.h
const NLMSG_ERROR = 2;
const RTM_NEWROUTE = 24;
const RTM_DELROUTE = 25;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_REPLACE = 0x100;
const NLM_F_CREATE = 0x400;
const AF_INET6 = 10;
const RT_TABLE_MAIN = 254;
const RTN_UNICAST = 1;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_EXPIRES = 23;
const NLMSG_HDRLEN = 16;
const RTMSG_LEN = 12;
const RTA_ADDRESS_LEN = 4 + 16;
const RTA_U32_LEN = 4 + 4;
/** Messages per sendmsg: 512 replaces are 43 KB, well inside the socket's send buffer. */
const CHUNK = 512;

export interface RouteMessageOptions {
  ifindex: number;
  protocol: number;
  /** Sequence number of the first message; the others follow. */
  seq: number;
}

function messageLength(c: RouteChange): number {
  return NLMSG_HDRLEN + RTMSG_LEN + RTA_ADDRESS_LEN + RTA_U32_LEN + (c.op === 'replace' ? RTA_ADDRESS_LEN + (c.expiresS === null ? 0 : RTA_U32_LEN) : 0);
}

function attribute(buf: Buffer, at: number, type: number, length: number): number {
  buf.writeUInt16LE(length, at);
  buf.writeUInt16LE(type, at + 2);
  return at + 4;
}

/**
 * The changes as RTM_NEWROUTE (replace: create or replace, main table, unicast) and RTM_DELROUTE
 * messages in host byte order, the last one asking for an acknowledgement; as ip encodes them.
 */
export function encodeRouteChanges(changes: readonly RouteChange[], opts: RouteMessageOptions): Buffer {
  const buf = Buffer.alloc(changes.reduce((n, c) => n + messageLength(c), 0));
  let at = 0;
  changes.forEach((c, i) => {
    const [address, length] = c.prefix.split('/');
    const len = messageLength(c);
    const replace = c.op === 'replace';
    buf.writeUInt32LE(len, at);
    buf.writeUInt16LE(replace ? RTM_NEWROUTE : RTM_DELROUTE, at + 4);
    buf.writeUInt16LE(NLM_F_REQUEST | (i === changes.length - 1 ? NLM_F_ACK : 0) | (replace ? NLM_F_CREATE | NLM_F_REPLACE : 0), at + 6);
    buf.writeUInt32LE((opts.seq + i) >>> 0, at + 8);
    // nlmsg_pid 0: the kernel. rtmsg: family, dst_len, src_len, tos, table, protocol, scope (universe), type, flags.
    let p = at + NLMSG_HDRLEN;
    buf[p] = AF_INET6;
    buf[p + 1] = Number(length);
    buf[p + 4] = RT_TABLE_MAIN;
    buf[p + 5] = opts.protocol;
    buf[p + 7] = replace ? RTN_UNICAST : 0;
    p += RTMSG_LEN;
    p = attribute(buf, p, RTA_DST, RTA_ADDRESS_LEN);
    p += ipv6ToBytes(address!).copy(buf, p);
    if (replace) {
      p = attribute(buf, p, RTA_GATEWAY, RTA_ADDRESS_LEN);
      p += ipv6ToBytes(c.via).copy(buf, p);
      if (c.expiresS !== null) {
        p = attribute(buf, p, RTA_EXPIRES, RTA_U32_LEN);
        p = buf.writeUInt32LE(c.expiresS, p);
      }
    }
    p = attribute(buf, p, RTA_OIF, RTA_U32_LEN);
    buf.writeUInt32LE(opts.ifindex, p);
    at += len;
  });
  return buf;
}

/** What the kernel answered to `count` messages from `seq`: the failed ones (index, errno) and whether the last was answered. */
export function readRouteAnswers(answers: Buffer, seq: number, count: number): { failed: { index: number; errno: number }[]; complete: boolean } {
  const failed: { index: number; errno: number }[] = [];
  let complete = false;
  for (let at = 0; at + NLMSG_HDRLEN <= answers.length;) {
    const len = answers.readUInt32LE(at);
    if (len < NLMSG_HDRLEN) break;
    if (answers.readUInt16LE(at + 4) === NLMSG_ERROR && len >= NLMSG_HDRLEN + 4) {
      const index = (answers.readUInt32LE(at + 8) - seq) >>> 0;
      const errno = -answers.readInt32LE(at + NLMSG_HDRLEN);
      if (index < count) {
        if (errno !== 0) failed.push({ index, errno });
        if (index === count - 1) complete = true;
      }
    }
    at += (len + 3) & ~3;
  }
  return { failed, complete };
}

/** ip's wording, "RTNETLINK answers: No such process" (libuv's message for the errno: glibc's for the usual ones). */
export function errnoText(errno: number): string {
  const message = getSystemErrorMap().get(-errno)?.[1] ?? `error ${errno}`;
  return `RTNETLINK answers: ${message[0]!.toUpperCase()}${message.slice(1)}`;
}

interface Group {
  changes: RouteChange[];
  waiters: { from: number; to: number; resolve: (f: RouteChangeFailure[]) => void; reject: (err: Error) => void }[];
  timer: NodeJS.Timeout | NodeJS.Immediate;
}

export class NetlinkRoutes implements RouteWriter {
  private socket: RouteNetlinkSocket | undefined;
  private group: Group | undefined;
  private seq = 1;

  /** Routes via interface `dev` with protocol `protocol`, in `netns` (default: ours); the socket opens at the first change. */
  constructor(
    private readonly dev: string,
    private readonly protocol: number,
    private readonly opts: { netns?: string; coalesceMs?: number } = {},
  ) {
    if (endianness() !== 'LE') throw new Error('NetlinkRoutes: netlink messages are in host byte order; only little-endian hosts are supported');
  }

  apply(changes: readonly RouteChange[]): Promise<RouteChangeFailure[]> {
    if (!changes.length) return Promise.resolve([]);
    const coalesce = this.opts.coalesceMs ?? 0;
    const g = (this.group ??= {
      changes: [],
      waiters: [],
      timer: coalesce > 0 ? setTimeout(() => this.flush(), coalesce) : setImmediate(() => this.flush()),
    });
    return new Promise((resolve, reject) => {
      g.waiters.push({ from: g.changes.length, to: g.changes.length + changes.length, resolve, reject });
      g.changes.push(...changes);
    });
  }

  private flush(): void {
    const g = this.group;
    if (!g) return;
    this.group = undefined;
    clearTimeout(g.timer as NodeJS.Timeout);
    clearImmediate(g.timer as NodeJS.Immediate);
    let failures: RouteChangeFailure[];
    try {
      failures = this.write(g.changes);
    } catch (err) {
      for (const w of g.waiters) w.reject(err as Error);
      return;
    }
    for (const w of g.waiters) w.resolve(failures.filter((f) => f.index >= w.from && f.index < w.to).map((f) => ({ index: f.index - w.from, error: f.error })));
  }

  private write(changes: readonly RouteChange[]): RouteChangeFailure[] {
    const socket = (this.socket ??= RouteNetlinkSocket.open(this.dev, this.opts.netns));
    const failures: RouteChangeFailure[] = [];
    for (let from = 0; from < changes.length; from += CHUNK) {
      const chunk = changes.slice(from, from + CHUNK);
      const seq = this.seq;
      this.seq = (this.seq + chunk.length) >>> 0;
      const answers = socket.transact(encodeRouteChanges(chunk, { ifindex: socket.ifindex, protocol: this.protocol, seq }));
      const { failed, complete } = readRouteAnswers(answers, seq, chunk.length);
      if (!complete) throw new Error(`route netlink: the kernel did not answer ${chunk.length} route change(s) on ${this.dev}`);
      for (const f of failed) failures.push({ index: from + f.index, error: errnoText(f.errno) });
    }
    return failures;
  }

  /** Writes what is pending, then closes the socket. */
  close(): Promise<void> {
    this.flush();
    this.socket?.close();
    this.socket = undefined;
    return Promise.resolve();
  }
}
