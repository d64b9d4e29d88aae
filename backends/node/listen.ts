/** Serves a fetch handler on host:port, resolving once it listens, or rejecting with a one-line reason (EADDRINUSE…). */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';

export class ListenError extends Error {
  override name = 'ListenError';
}

export async function listen(
  fetch: (request: Request) => Response | Promise<Response>,
  port: number,
  host: string,
): Promise<{ server: Server; port: number }> {
  const server = createAdaptorServer({ fetch }) as Server;
  await new Promise<void>((resolve, reject) => {
    const fail = (e: NodeJS.ErrnoException) =>
      reject(new ListenError(`cannot listen on ${host}:${port}: ${e.code ?? e.message}`));
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}
