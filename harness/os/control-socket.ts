/**
 * The unix control socket of v6pod's own daemons (the relay, the synthetic-instance hosts). It speaks
 * Kea's control-socket dialect — one JSON command in, one JSON answer out, `result` 0 on success —
 * so one client, keaCommand, speaks to Kea and to every one of them.
 */
import { createConnection, createServer, type Server } from 'node:net';
import { rmSync } from 'node:fs';

export interface ControlRequest {
  command?: unknown;
  arguments?: Record<string, unknown>;
}

export interface ControlAnswer {
  result: number;
  text?: string;
  arguments?: Record<string, unknown>;
}

/** The `result` codes of Kea's control protocol (0 success, 1 error, 2 unsupported command, 3 empty: nothing found or done). */
export const CONTROL_RESULT = { success: 0, error: 1, unsupported: 2, empty: 3 } as const;

export type ControlHandler = (request: ControlRequest) => Promise<ControlAnswer>;

const MAX_REQUEST_BYTES = 64 * 1024;

export async function serveControl(path: string, handle: ControlHandler): Promise<Server> {
  rmSync(path, { force: true });
  const server = createServer((conn) => {
    let data = '';
    conn.setEncoding('utf8').on('data', (d: string) => {
      data += d;
      if (data.length > MAX_REQUEST_BYTES) return conn.end(`${JSON.stringify({ result: CONTROL_RESULT.error, text: 'request too large' })}\n`);
      let request;
      try {
        request = JSON.parse(data) as ControlRequest;
      } catch {
        return; // an incomplete JSON document: wait for more
      }
      handle(request).then(
        (answer) => conn.end(`${JSON.stringify(answer)}\n`),
        (err: Error) => conn.end(`${JSON.stringify({ result: CONTROL_RESULT.error, text: err.message })}\n`),
      );
    });
    conn.on('error', () => undefined);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}

/** An answer from Kea or from one of v6pod's daemons. */
export type KeaAnswer = ControlAnswer;

/** A control socket that took no answer in time: its daemon may be alive but too busy (a poller may ask again). */
export class ControlTimeout extends Error {
  override name = 'ControlTimeout';
}

/** Sends one command over Kea's control socket and returns its answer (Kea closes the connection after answering). */
export function keaCommand(socket: string, command: string, args?: object, timeoutMs = 2000): Promise<KeaAnswer> {
  return new Promise((resolve, reject) => {
    const conn = createConnection(socket);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => conn.destroy(new ControlTimeout(`no answer to '${command}' on ${socket} within ${timeoutMs} ms`)), timeoutMs);
    conn.on('connect', () => conn.write(JSON.stringify({ command, ...(args ? { arguments: args } : {}) })));
    conn.on('data', (d: Buffer) => chunks.push(d));
    // Parsed once, at the end: a large answer (lease6-get-all) arrives in many chunks.
    conn.on('end', () => {
      clearTimeout(timer);
      try {
        const answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as KeaAnswer | KeaAnswer[];
        resolve(Array.isArray(answer) ? answer[0]! : answer);
      } catch (err) {
        reject(new Error(`Kea's answer to '${command}' is not JSON: ${(err as Error).message}`));
      }
    });
    conn.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
