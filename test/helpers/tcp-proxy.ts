/**
 * A loopback TCP proxy in front of a real server, which a test can cut (every open connection is reset and new
 * ones are refused) and restore. It plays a network partition between Spark Runner and a cluster: the server
 * itself keeps running, so it answers again, with its state intact, once the proxy is restored.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import YAML from 'yaml';
import type { KubeApiServer } from '../../provision/kubernetes/index.js';

export interface TcpProxy {
  port: number;
  /** Resets every open connection and refuses new ones until `restore()`. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<net.Socket>();
  let cut = false;
  const server = net.createServer((client) => {
    if (cut) return void client.resetAndDestroy();
    const upstream = net.connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      cut = true;
      for (const socket of open) socket.resetAndDestroy();
    },
    restore() {
      cut = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A kube-apiserver reached through a proxy: the proxy, and a kubeconfig that goes through it. */
export interface ProxiedKube {
  proxy: TcpProxy;
  kubeconfigPath: string;
}

/** Puts a proxy in front of a real kube-apiserver and writes a kubeconfig (next to its own) that uses it. */
export async function proxyKube(server: KubeApiServer): Promise<ProxiedKube> {
  const url = new URL(server.url);
  const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
  const config = YAML.parse(fs.readFileSync(server.kubeconfigPath, 'utf8')) as {
    clusters: Array<{ cluster: { server: string } }>;
  };
  for (const c of config.clusters) c.cluster.server = `https://${url.hostname}:${proxy.port}`;
  const kubeconfigPath = path.join(path.dirname(server.kubeconfigPath), `proxied-${proxy.port}.kubeconfig`);
  fs.writeFileSync(kubeconfigPath, YAML.stringify(config));
  return { proxy, kubeconfigPath };
}
