/**
 * The unix control socket of v6pod's own daemons (the relay, the synthetic-instance hosts). It speaks
 * Kea's control-socket dialect — one JSON command in, one JSON answer out, `result` 0 on success —
 * so netns/daemons/kea.ts's keaCommand is the client of every one of them.
 */
import { createServer, type Server } from 'node:net';
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

export type ControlHandler = (request: ControlRequest) => Promise<ControlAnswer>;

const MAX_REQUEST_BYTES = 64 * 1024;

export async function serveControl(path: string, handle: ControlHandler): Promise<Server> {
  rmSync(path, { force: true });
  const server = createServer((conn) => {
    let data = '';
    conn.setEncoding('utf8').on('data', (d: string) => {
      data += d;
      if (data.length > MAX_REQUEST_BYTES) return conn.end(`${JSON.stringify({ result: 1, text: 'request too large' })}\n`);
      let request;
      try {
        request = JSON.parse(data) as ControlRequest;
      } catch {
        return; // an incomplete JSON document: wait for more
      }
      handle(request).then(
        (answer) => conn.end(`${JSON.stringify(answer)}\n`),
        (err: Error) => conn.end(`${JSON.stringify({ result: 1, text: err.message })}\n`),
      );
    });
    conn.on('error', () => undefined);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}
