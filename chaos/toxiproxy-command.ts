/**
 * `meterfabric chaos toxiproxy [--host H] [--port P]`: runs the Toxiproxy-compatible API on
 * its own (default localhost:8474, Toxiproxy's default) until SIGINT/SIGTERM.
 */
import { listenPortRange, numberFlagProblem, parseCommandLine } from '../core/command-line.js';
import { ConfigError } from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import { defaultToxiproxyHost, defaultToxiproxyPort, startToxiproxyServer } from './toxiproxy/server.js';

export async function runToxiproxyCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandLine('chaos toxiproxy', {
    args: argv,
    options: {
      host: { type: 'string', default: defaultToxiproxyHost },
      port: { type: 'string', default: String(defaultToxiproxyPort) },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('usage: meterfabric chaos toxiproxy [--host localhost] [--port 8474]\n');
    return 0;
  }
  const problem = numberFlagProblem('--port', values.port, listenPortRange);
  if (problem !== undefined) throw new ConfigError([problem]);
  const port = Number(values.port);
  const logger = createLogger({ component: 'toxiproxy' });
  const server = await startToxiproxyServer({ host: values.host, port, logger });
  // One parseable line for scripts and tests that start us with --port 0.
  process.stdout.write(`toxiproxy API listening on ${server.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  return 0;
}
