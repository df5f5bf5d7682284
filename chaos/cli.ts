import { exitCodes } from '../core/command-line.js';

/**
 * `meterfabric chaos <subcommand>`: `toxiproxy` runs the Toxiproxy-compatible fault server;
 * `run <scenario>` runs a seeded chaos scenario and prints its report.
 */
export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'toxiproxy':
      return (await import('./toxiproxy-command.js')).runToxiproxyCommand(rest);
    case 'run':
      return (await import('./runner/run-command.js')).runScenarioCommand(rest);
    default: {
      const help = sub === '--help' || sub === '-h';
      // Asked for, the usage is the answer (stdout, 0); otherwise the command line is wrong (2).
      (help ? process.stdout : process.stderr).write(
        'usage: meterfabric chaos toxiproxy [--host H --port P]\n' +
          '       meterfabric chaos run <scenario> [--rounds N] [--seed S] [--out DIR]\n',
      );
      return help ? exitCodes.ok : exitCodes.usage;
    }
  }
}
