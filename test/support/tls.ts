import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Test certificates made with the system's openssl (not our code) in a temp dir: a CA, a server
 * certificate for 127.0.0.1/localhost, client certificates signed by that CA, and a second,
 * unrelated CA with a client certificate of its own (the "stranger"). P-256 keys, valid 2 days.
 */

const run = promisify(execFile);

export type Pem = { certPem: string; keyPem: string };

export type TestPki = {
  dir: string;
  caPem: string;
  server: Pem;
  /** Signed by the CA; subject CN as given to makePki. */
  clients: Record<string, Pem>;
  /** A client certificate from another CA, CN "stranger". */
  stranger: Pem;
  strangerCaPem: string;
  /** Paths of the PEM files (for configuration by file). */
  files: { ca: string; serverCert: string; serverKey: string };
  remove(): Promise<void>;
};

/** A new P-256 key without a passphrase, for `openssl req` (the CA's and the leaves'). */
const ecKeyArgs = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'] as const;

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(dir, [
    'req',
    '-x509',
    ...ecKeyArgs,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

async function makeLeaf(dir: string, ca: string, name: string, cn: string, ext: string): Promise<Pem> {
  await writeFile(join(dir, `${name}.ext`), `${ext}\n`);
  await openssl(dir, [
    'req',
    '-new',
    ...ecKeyArgs,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${cn}`,
  ]);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  ]);
  return {
    certPem: await readFile(join(dir, `${name}.crt`), 'utf8'),
    keyPem: await readFile(join(dir, `${name}.key`), 'utf8'),
  };
}

export async function makePki(clientNames: readonly string[] = ['integrator-a']): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'mf-pki-'));
  try {
    await makeCa(dir, 'ca');
    await makeCa(dir, 'other-ca');
    const server = await makeLeaf(
      dir,
      'ca',
      'server',
      'localhost',
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE',
    );
    const clients: Record<string, Pem> = {};
    for (const [i, cn] of clientNames.entries())
      clients[cn] = await makeLeaf(
        dir,
        'ca',
        `client${i}`,
        cn,
        'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE',
      );
    const stranger = await makeLeaf(
      dir,
      'other-ca',
      'stranger',
      'stranger',
      'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE',
    );
    return {
      dir,
      caPem: await readFile(join(dir, 'ca.crt'), 'utf8'),
      server,
      clients,
      stranger,
      strangerCaPem: await readFile(join(dir, 'other-ca.crt'), 'utf8'),
      files: {
        ca: join(dir, 'ca.crt'),
        serverCert: join(dir, 'server.crt'),
        serverKey: join(dir, 'server.key'),
      },
      remove: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
