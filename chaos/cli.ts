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
    default:
      process.stderr.write(
        'usage: meterfabric chaos toxiproxy [--host H --port P]\n' +
          '       meterfabric chaos run <scenario> [--rounds N] [--seed S] [--out DIR]\n',
      );
      return sub === undefined || sub === '--help' || sub === '-h' ? 0 : 2;
  }
}
