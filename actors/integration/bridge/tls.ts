import { readFile } from 'node:fs/promises';
import { ConfigError } from '../../../core/errors.js';

/**
 * TLS for the CIM bridge's HTTP and gRPC endpoints. With `clientCaPem` set the endpoints
 * require mutual TLS: a caller without a certificate signed by that CA fails the handshake
 * (HTTP: the connection is reset before any request is read; gRPC: the call fails UNAVAILABLE),
 * so nothing it sent is ever executed. `allowedClientNames` narrows the accepted certificates to
 * those whose subject CN is listed (others get 403 / PERMISSION_DENIED, MF_FORBIDDEN).
 */

export type BridgeTls = {
  /** PEM server certificate chain and its key. */
  certPem: string | Buffer;
  keyPem: string | Buffer;
  /** PEM CA bundle that signs integrators' client certificates: set, mTLS is required. */
  clientCaPem?: string | Buffer;
  /** Subject CNs of the integrators allowed in (needs clientCaPem); absent: any the CA signed. */
  allowedClientNames?: readonly string[];
};

export type BridgeTlsFiles = {
  certFile: string;
  keyFile: string;
  clientCaFile?: string;
  /** Comma-separated subject CNs. */
  allowedClients?: string;
};

/** Refuses a configuration that would not do what it says (a CN list without mTLS is never checked). */
export function validateBridgeTls(tls: BridgeTls | undefined): void {
  if (!tls) return;
  const problems: string[] = [];
  if (tls.allowedClientNames !== undefined && tls.clientCaPem === undefined)
    problems.push('allowedClientNames needs clientCaPem: client certificates are only checked with mTLS');
  if (tls.allowedClientNames?.length === 0)
    problems.push(
      'allowedClientNames is empty: nobody could call; omit it to allow every certificate of the CA',
    );
  if (problems.length > 0) throw new ConfigError(problems);
}

/** Reads the PEM files named in configuration; ConfigError names every file that is missing or not PEM. */
export async function loadBridgeTls(files: BridgeTlsFiles): Promise<BridgeTls> {
  const problems: string[] = [];
  const read = async (label: string, path: string | undefined): Promise<Buffer | undefined> => {
    if (path === undefined) return undefined;
    try {
      const pem = await readFile(path);
      if (!pem.includes('-----BEGIN ')) problems.push(`${label} ${path} is not a PEM file`);
      return pem;
    } catch (err) {
      problems.push(`${label} ${path} cannot be read: ${(err as Error).message}`);
      return undefined;
    }
  };
  const [certPem, keyPem, clientCaPem] = await Promise.all([
    read('TLS certificate', files.certFile),
    read('TLS key', files.keyFile),
    read('client CA', files.clientCaFile),
  ]);
  const allowed = files.allowedClients
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (allowed !== undefined && files.clientCaFile === undefined)
    problems.push('allowed client names need a client CA (mTLS): set the client CA file too');
  if (problems.length > 0 || certPem === undefined || keyPem === undefined) throw new ConfigError(problems);
  return {
    certPem,
    keyPem,
    ...(clientCaPem !== undefined ? { clientCaPem } : {}),
    ...(allowed !== undefined ? { allowedClientNames: allowed } : {}),
  };
}
