/** Starts the API on host:port; used by bin/api.ts and by tests (port 0 picks a free port). */
import type { AddressInfo } from 'node:net';
import { createApp, type AppDeps } from './app.js';

export interface ApiServer {
  url: string;
  close(): Promise<void>;
}

export async function startApiServer(deps: AppDeps, host: string, port: number): Promise<ApiServer> {
  const app = createApp(deps);
  const server = app.listen(port, host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
