/**
 * Throwaway certificates for TLS tests, made with the openssl CLI: a CA, a server certificate for
 * localhost/127.0.0.1 (usable as a client certificate too, as the server's own system worker needs), a client
 * certificate from the same CA, and an unrelated CA with a client certificate of its own for "wrong CA" cases.
 * EC P-256 keys: fast to make, and accepted by Node's TLS and by rustls (the worker's native connection).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CertPair {
  certFile: string;
  keyFile: string;
}

export interface TestCerts {
  dir: string;
  /** The CA that signed `server` and `client`. */
  ca: CertPair;
  /** CN=localhost, SAN DNS:localhost and IP:127.0.0.1, serverAuth and clientAuth. */
  server: CertPair;
  /** CN=spark-runner-test-client, clientAuth, signed by `ca`. */
  client: CertPair;
  /** A CA that has nothing to do with `ca`. */
  otherCa: CertPair;
  /** A client certificate signed by `otherCa`. */
  otherClient: CertPair;
}

const DAYS = '2';

async function openssl(dir: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd: dir, timeout: 30_000 });
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? err).trim();
    throw new Error(`openssl ${args[0]} failed: ${stderr}`);
  }
}

const keyArgs = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function makeCa(dir: string, name: string): Promise<CertPair> {
  const pair = { certFile: path.join(dir, `${name}.crt`), keyFile: path.join(dir, `${name}.key`) };
  await openssl(dir, [
    'req',
    '-x509',
    ...keyArgs,
    '-keyout',
    pair.keyFile,
    '-out',
    pair.certFile,
    '-days',
    DAYS,
    '-subj',
    `/CN=spark-runner-test-${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return pair;
}

async function makeLeaf(dir: string, name: string, cn: string, ca: CertPair, extensions: string[]): Promise<CertPair> {
  const pair = { certFile: path.join(dir, `${name}.crt`), keyFile: path.join(dir, `${name}.key`) };
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  fs.writeFileSync(ext, ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', ...extensions].join('\n'));
  await openssl(dir, ['req', ...keyArgs, '-keyout', pair.keyFile, '-out', csr, '-subj', `/CN=${cn}`]);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.certFile,
    '-CAkey',
    ca.keyFile,
    '-CAcreateserial',
    '-out',
    pair.certFile,
    '-days',
    DAYS,
    '-extfile',
    ext,
  ]);
  fs.rmSync(csr);
  fs.rmSync(ext);
  return pair;
}

/** Makes the certificates in `dir` (created if missing). */
export async function generateTestCerts(dir: string): Promise<TestCerts> {
  fs.mkdirSync(dir, { recursive: true });
  const ca = await makeCa(dir, 'ca');
  const otherCa = await makeCa(dir, 'other-ca');
  const server = await makeLeaf(dir, 'server', 'localhost', ca, [
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    'extendedKeyUsage=serverAuth,clientAuth',
  ]);
  const client = await makeLeaf(dir, 'client', 'spark-runner-test-client', ca, ['extendedKeyUsage=clientAuth']);
  const otherClient = await makeLeaf(dir, 'other-client', 'spark-runner-test-intruder', otherCa, [
    'extendedKeyUsage=clientAuth',
  ]);
  return { dir, ca, server, client, otherCa, otherClient };
}

/** A certificate pair as the Temporal SDK's `clientCertPair` wants it. */
export function certPair(pair: CertPair): { crt: Buffer; key: Buffer } {
  return { crt: fs.readFileSync(pair.certFile), key: fs.readFileSync(pair.keyFile) };
}
