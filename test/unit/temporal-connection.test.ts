/**
 * The one set of Temporal connection options every process builds from its config (config/temporal.ts): when TLS is
 * on, what an API key does, and that bad TLS settings are one line naming the variable, before any connection.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config/index.js';
import { temporalConnectionOptions } from '../../config/temporal.js';
import { generateTestCerts, type TestCerts } from '../helpers/certs.js';

let certs: TestCerts;
beforeAll(async () => {
  certs = await generateTestCerts(fs.mkdtempSync(path.join(os.tmpdir(), 'temporal-connection-')));
});

const optionsFor = (env: Record<string, string>) => temporalConnectionOptions(loadConfig(env));

describe('Temporal connection options', () => {
  it('connect in plaintext to the dev server address by default', () => {
    expect(optionsFor({})).toEqual({ address: '127.0.0.1:7233', tls: false });
  });

  it('turn TLS on for an API key, as the Temporal CLI and SDKs do, and send the key as apiKey', () => {
    expect(optionsFor({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_API_KEY: 'k' })).toEqual({
      address: 'ns.acct.tmprl.cloud:7233',
      tls: {},
      apiKey: 'k',
    });
  });

  it('keep plaintext with an API key when TEMPORAL_TLS=false', () => {
    expect(optionsFor({ TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' })).toEqual({
      address: '127.0.0.1:7233',
      tls: false,
      apiKey: 'k',
    });
  });

  it('read the CA, the client certificate and key, and the server name for mTLS', () => {
    const options = optionsFor({
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca.certFile,
      TEMPORAL_TLS_CLIENT_CERT_PATH: certs.client.certFile,
      TEMPORAL_TLS_CLIENT_KEY_PATH: certs.client.keyFile,
      TEMPORAL_TLS_SERVER_NAME: 'localhost',
    });
    expect(options.tls).toEqual({
      serverRootCACertificate: fs.readFileSync(certs.ca.certFile),
      clientCertPair: { crt: fs.readFileSync(certs.client.certFile), key: fs.readFileSync(certs.client.keyFile) },
      serverNameOverride: 'localhost',
    });
  });

  it.each([
    [
      'a client certificate without its key',
      () => loadConfig({ TEMPORAL_TLS_CLIENT_CERT_PATH: certs.client.certFile }),
      () => 'mTLS needs both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH: set both, or neither',
    ],
    [
      'TLS files with TEMPORAL_TLS=false',
      () => loadConfig({ TEMPORAL_TLS: 'false', TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca.certFile }),
      () => 'TEMPORAL_TLS=false, but TEMPORAL_TLS_SERVER_CA_CERT_PATH asks for TLS: unset one of them',
    ],
    [
      'a CA file that does not exist',
      () => optionsFor({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/nonexistent/ca.crt' }),
      () =>
        'TEMPORAL_TLS_SERVER_CA_CERT_PATH=/nonexistent/ca.crt cannot be read (ENOENT): point it at a PEM certificate file',
    ],
    [
      'a CA file that is not a certificate',
      () => optionsFor({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca.keyFile }),
      () => `TEMPORAL_TLS_SERVER_CA_CERT_PATH=${certs.ca.keyFile} is not a PEM certificate`,
    ],
  ])('refuse %s in one line naming the variable', (_what, load, message) => {
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(message());
  });

  it('refuse a client key that is not the certificate’s', () => {
    expect(() =>
      optionsFor({
        TEMPORAL_TLS_CLIENT_CERT_PATH: certs.client.certFile,
        TEMPORAL_TLS_CLIENT_KEY_PATH: certs.otherClient.keyFile,
      }),
    ).toThrow(
      `TEMPORAL_TLS_CLIENT_KEY_PATH=${certs.otherClient.keyFile} is not the key of TEMPORAL_TLS_CLIENT_CERT_PATH=${certs.client.certFile}`,
    );
  });
});
